"""Business rules as plain functions over a SQLAlchemy session. No Flask request in here."""
