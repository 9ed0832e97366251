"""Producer plug-ins for outside sources: CSV files, Bluesky Jetstream, Mastodon streaming."""
