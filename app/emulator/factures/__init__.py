"""`/cpro/factures/v1/...`: soumettre, and reading invoices back as their supplier."""
