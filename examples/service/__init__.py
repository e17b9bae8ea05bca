"""A FastAPI service on the actor runtime: see app.py and README.md here."""
