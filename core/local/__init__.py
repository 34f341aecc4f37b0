"""Running the platform on this machine: an AWS emulator, the deployment, a local API gateway."""
