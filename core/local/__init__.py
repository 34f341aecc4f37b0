"""The local AWS emulator (moto server with our fidelity and authorization patches) and what runs on it."""
