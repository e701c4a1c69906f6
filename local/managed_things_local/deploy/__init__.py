"""Local deploy: a cloud assembly's Custom::ManagedThing resources, through the real provider, against the emulator."""
