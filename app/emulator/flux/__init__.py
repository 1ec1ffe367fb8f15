"""The flux channel: `factures/v1/deposer/flux`, its processing, the `consulterCR` reports."""
