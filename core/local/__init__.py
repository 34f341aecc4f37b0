"""The local AWS emulator (moto server) and the patches that close its gaps."""
