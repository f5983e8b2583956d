"""One router per area of the HTTP API, composed by :func:`haechi.api.create_app`."""
