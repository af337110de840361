"""Pages, one module (or package) per area; app/registry.py adds them to AppBuilder."""
