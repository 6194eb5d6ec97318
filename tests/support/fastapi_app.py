"""The example app: a small FastAPI service, as a developer would run under uvicorn."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI(title="netdash example")


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    return "<html><head><title>Example API</title></head><body>hello</body></html>"


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
