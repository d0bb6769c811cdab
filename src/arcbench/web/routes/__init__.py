"""The API's routers, one module per resource; each handler parses, calls the library, answers."""
