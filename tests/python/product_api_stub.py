"""A DummyJSON-shaped product API on loopback, for the Lambda smoke check.

Usage: python3 tests/python/product_api_stub.py PORT [TOTAL]
Serves GET /products?limit=L&skip=S -> {"products": [...], "total", "skip", "limit"}.
Stops by itself after 10 minutes.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 90
CATEGORIES = ["beauty", "groceries", "furniture", "fragrances"]
CATALOG = [
    {
        "id": i,
        "title": f"Product {i}",
        "description": f"Description of product {i}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "price": round(4.99 + i * 1.25, 2),
        "stock": 10 + i,
        "brand": "Brand X",
        "sku": f"SKU-{i:04d}",
    }
    for i in range(1, TOTAL + 1)
]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        url = urlparse(self.path)
        if url.path.rstrip("/") != "/products":
            self.send_error(404)
            return
        q = parse_qs(url.query)
        limit = int(q.get("limit", ["30"])[0])
        skip = int(q.get("skip", ["0"])[0])
        body = json.dumps(
            {"products": CATALOG[skip : skip + limit], "total": TOTAL, "skip": skip, "limit": limit}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    threading.Timer(600, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
