"""HTTP views served by the Faust web server (paths from the contract)."""
