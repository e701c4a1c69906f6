"""What the local deploy has deployed, kept beside the cloud assembly: state.sqlite (records, journals, vault)."""
