"""`/cpro/transverses/v1/...`: attachments, the account's structures, health-check."""
