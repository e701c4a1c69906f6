"""What the local deploy has deployed, kept beside the cloud assembly: the state store, its journal and vault."""
