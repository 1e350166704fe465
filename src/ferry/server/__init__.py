"""The ASGI server: Campaign SOAP router, REST API, health, metrics, around one Runtime."""
