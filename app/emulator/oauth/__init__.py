"""PISTE's OAuth2 token endpoint."""
