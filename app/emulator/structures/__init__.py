"""`/cpro/structures/v1/...`: the directory of structures and their services."""
