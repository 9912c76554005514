"""The local web app: a JSON search API (FastAPI) and a thin page over it.

`personsearch serve` builds a `SearchService` (the searchers and the gallery) and serves
`create_app(service)` with uvicorn. Only pictures of the indexed gallery are ever served.
"""
