//! A local HTTP/1.1 product API (DummyJSON- and FakeStore-shaped) with programmable failures.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The categories of the stub's catalog; product `i` (1-based) has `CATEGORIES[(i - 1) % 4]`.
pub const CATEGORIES: [&str; 4] = ["beauty", "groceries", "furniture", "fragrances"];

/// DummyJSON's page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 30;
/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const TIMESTAMP: &str = "2024-05-23T08:56:21.618Z";
/// The body served by [`Behaviour::Malformed`]: a page cut off mid-document.
const MALFORMED_BODY: &str = r#"{"products":[{"id":1,"title":"Product 1","price":"#;

/// How the stub answers `GET /products` requests for one `skip` value; set with
/// [`ProductApiStub::fail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// `429 Too Many Requests` with a `Retry-After: retry_after_secs` header for the first
    /// `times` requests, then normal answers.
    TooManyRequests {
        /// How many requests are refused before the page is served.
        times: usize,
        /// The `Retry-After` header's value, in seconds.
        retry_after_secs: u64,
    },
    /// `500 Internal Server Error` for the first `times` requests (`usize::MAX`: always), then
    /// normal answers.
    ServerError {
        /// How many requests fail before the page is served.
        times: usize,
    },
    /// Waits this long before answering normally, on every request (for client timeouts).
    Slow(Duration),
    /// `200 OK` with a JSON content type and a body that is not valid JSON, on every request.
    Malformed,
    /// Closes the connection without answering for the first `times` requests (`usize::MAX`:
    /// always), then normal answers — a connection error for the client.
    Disconnect {
        /// How many requests are dropped before the page is served.
        times: usize,
    },
}

#[derive(Debug)]
struct State {
    catalog: Vec<Value>,
    /// Per skip: the behaviour and how many requests it has seen since it was set.
    failures: HashMap<usize, (Behaviour, usize)>,
    /// Per skip: how many `GET /products` requests arrived.
    requests: HashMap<usize, usize>,
    total_requests: usize,
}

/// What one connection gets.
enum Reply {
    Respond {
        delay: Option<Duration>,
        status: u16,
        extra_headers: Vec<(&'static str, String)>,
        body: String,
    },
    Hangup,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply::Respond {
            delay: None,
            status,
            extra_headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn message(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({ "message": message }))
    }
}

/// A DummyJSON-shaped product API on `127.0.0.1` (a random free port), serving a deterministic
/// catalog, for testing the product fetcher without the network.
///
/// Routes (`GET` only; anything else answers 404):
/// - `/products?limit=L&skip=S` → `{"products":[…],"total":N,"skip":S,"limit":n}` where, as on
///   DummyJSON, `limit` in the answer is the number of products returned (fewer than `L` on the
///   last page, `0` past the end). Defaults: `limit=30`, `skip=0`; `limit=0` means all. A
///   non-numeric `limit` or `skip` answers 400.
/// - `/products/{id}` → one product, or 404.
/// - `/fakestore/products[?limit=L]` → the catalog as a FakeStore-shaped JSON array
///   (`id`, `title`, `price`, `description`, `category`, `image`, `rating: {rate, count}`).
///
/// Failures are programmed per `skip` with [`ProductApiStub::fail`]. The server runs on a tokio
/// task of the current runtime and stops when the stub is dropped.
pub struct ProductApiStub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ProductApiStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductApiStub")
            .field("addr", &self.addr)
            .field("products", &self.lock().catalog.len())
            .finish()
    }
}

impl ProductApiStub {
    /// Starts the server with a catalog of `total` products, ids `1..=total`.
    ///
    /// Product `i` is `{"id": i, "title": "Product i", "description": …, "category":
    /// CATEGORIES[(i-1) % 4], "price": 9.99 + (i·1.37 mod 90.00) (two decimals),
    /// "discountPercentage": 5.5, "rating": 4.2, "stock": 10 + i, "tags": [category],
    /// "brand": "Brand X", "sku": "SKU-0001" (four digits), "weight", "dimensions",
    /// "warrantyInformation", "shippingInformation", "availabilityStatus", "reviews",
    /// "returnPolicy", "minimumOrderQuantity", "meta": {"createdAt", "updatedAt", "barcode",
    /// "qrCode"}, "images", "thumbnail"}` — the fields of a real DummyJSON product. As on
    /// DummyJSON, `groceries` products have no `brand` field.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if no loopback port can be bound.
    pub async fn start(total: usize) -> ProductApiStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind a loopback port for the product API stub");
        let addr = listener
            .local_addr()
            .expect("bound listener has no address");
        let state = Arc::new(Mutex::new(State {
            catalog: (1..=total).map(make_product).collect(),
            failures: HashMap::new(),
            requests: HashMap::new(),
            total_requests: 0,
        }));
        let task = tokio::spawn(serve(listener, Arc::clone(&state)));
        ProductApiStub { addr, state, task }
    }

    /// The DummyJSON-style products URL, `http://127.0.0.1:PORT/products`.
    pub fn base_url(&self) -> String {
        format!("http://{}/products", self.addr)
    }

    /// The FakeStore-style products URL, `http://127.0.0.1:PORT/fakestore/products`.
    pub fn fakestore_url(&self) -> String {
        format!("http://{}/fakestore/products", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many products the catalog holds.
    pub fn total(&self) -> usize {
        self.lock().catalog.len()
    }

    /// Makes `GET /products` requests with this `skip` behave as `behaviour` from now on,
    /// replacing any behaviour set before for it (its request counter starts again at zero).
    pub fn fail(&self, skip: usize, behaviour: Behaviour) {
        self.lock().failures.insert(skip, (behaviour, 0));
    }

    /// Makes requests with this `skip` answer normally again.
    pub fn clear(&self, skip: usize) {
        self.lock().failures.remove(&skip);
    }

    /// How many `GET /products` requests with this `skip` arrived, whatever they were answered
    /// with (a request without `skip` counts as `skip=0`; one whose `limit` or `skip` is not a
    /// number is answered 400 and not counted here).
    pub fn requests(&self, skip: usize) -> usize {
        self.lock().requests.get(&skip).copied().unwrap_or(0)
    }

    /// How many HTTP requests arrived in all, on any route.
    pub fn total_requests(&self) -> usize {
        self.lock().total_requests
    }

    /// The current catalog entry of product `id` (1-based), as served.
    ///
    /// # Panics
    ///
    /// If there is no such product.
    pub fn product(&self, id: usize) -> Value {
        let state = self.lock();
        id.checked_sub(1)
            .and_then(|i| state.catalog.get(i))
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no product {id} in a catalog of {} products",
                    state.catalog.len()
                )
            })
    }

    /// Changes product `id`'s price (and its `meta.updatedAt`) for every later request, so a
    /// test can show that a second run sees a price change.
    ///
    /// # Panics
    ///
    /// If there is no such product, or the price is not finite.
    pub fn set_price(&self, id: usize, price: f64) {
        let number = serde_json::Number::from_f64(price)
            .unwrap_or_else(|| panic!("price {price} is not a finite number"));
        let mut state = self.lock();
        let total = state.catalog.len();
        let product = id
            .checked_sub(1)
            .and_then(|i| state.catalog.get_mut(i))
            .unwrap_or_else(|| panic!("no product {id} in a catalog of {total} products"));
        product["price"] = Value::Number(number);
        product["meta"]["updatedAt"] = Value::String("2024-06-01T00:00:00.000Z".to_string());
    }

    /// The body a normal `GET /products?limit=L&skip=S` answers with now (what the fetcher
    /// should have stored for that page).
    pub fn page(&self, limit: usize, skip: usize) -> Value {
        dummyjson_page(&self.lock().catalog, limit, skip)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ProductApiStub {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open connection too.
        self.task.abort();
    }
}

fn make_product(i: usize) -> Value {
    let category = CATEGORIES[(i - 1) % CATEGORIES.len()];
    let cents = 999 + (i * 137) % 9000;
    let price = cents as f64 / 100.0;
    let stock = 10 + i;
    let mut product = json!({
        "id": i,
        "title": format!("Product {i}"),
        "description": format!("Product {i} is a deterministic {category} item served by the ShopFlow test stub."),
        "category": category,
        "price": price,
        "discountPercentage": 5.5,
        "rating": 4.2,
        "stock": stock,
        "tags": [category],
        "brand": "Brand X",
        "sku": format!("SKU-{i:04}"),
        "weight": 1 + i % 9,
        "dimensions": { "width": 10.5, "height": 20.25, "depth": 5.0 },
        "warrantyInformation": "1 year warranty",
        "shippingInformation": "Ships in 1-2 business days",
        "availabilityStatus": "In Stock",
        "reviews": [{
            "rating": 5,
            "comment": "Great product!",
            "date": TIMESTAMP,
            "reviewerName": "Test Reviewer",
            "reviewerEmail": "test.reviewer@x.dummyjson.com"
        }],
        "returnPolicy": "30 days return policy",
        "minimumOrderQuantity": 1,
        "meta": {
            "createdAt": TIMESTAMP,
            "updatedAt": TIMESTAMP,
            "barcode": format!("{:013}", 4_000_000_000_000_usize + i),
            "qrCode": "https://cdn.dummyjson.com/public/qr-code.png"
        },
        "images": [format!("https://cdn.dummyjson.com/product-images/{category}/product-{i}/1.webp")],
        "thumbnail": format!("https://cdn.dummyjson.com/product-images/{category}/product-{i}/thumbnail.webp")
    });
    if category == "groceries"
        && let Some(object) = product.as_object_mut()
    {
        object.remove("brand");
    }
    product
}

fn dummyjson_page(catalog: &[Value], limit: usize, skip: usize) -> Value {
    let start = skip.min(catalog.len());
    let end = if limit == 0 {
        catalog.len()
    } else {
        start.saturating_add(limit).min(catalog.len())
    };
    let products = &catalog[start..end];
    json!({
        "products": products,
        "total": catalog.len(),
        "skip": skip,
        "limit": products.len(),
    })
}

fn fakestore_products(catalog: &[Value], limit: Option<usize>) -> Value {
    let take = match limit {
        Some(0) | None => catalog.len(),
        Some(n) => n,
    };
    Value::Array(
        catalog
            .iter()
            .take(take)
            .map(|p| {
                json!({
                    "id": p["id"],
                    "title": p["title"],
                    "price": p["price"],
                    "description": p["description"],
                    "category": p["category"],
                    "image": format!("https://fakestoreapi.com/img/{}.jpg", p["id"]),
                    "rating": { "rate": p["rating"], "count": p["stock"] },
                })
            })
            .collect(),
    )
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(handle(stream, Arc::clone(&state)));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Ok(Some(head)) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let reply = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        route(&mut state, &head)
    };
    match reply {
        Reply::Hangup => drop(stream),
        Reply::Respond {
            delay,
            status,
            extra_headers,
            body,
        } => {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let mut response = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in extra_headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            if stream.write_all(response.as_bytes()).await.is_ok() {
                let _ = stream.flush().await;
                let _ = stream.shutdown().await;
            }
        }
    }
}

/// Reads the request line and headers (up to the blank line); `None` if the client closed or
/// sent something too long.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            buffer.truncate(end);
            return Some(String::from_utf8_lossy(&buffer).into_owned());
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn route(state: &mut State, head: &str) -> Reply {
    state.total_requests += 1;
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Reply::message(400, "malformed request line");
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" {
        return Reply::message(404, &format!("no route for {method} {path}"));
    }
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let number = |name: &str, default: usize| -> Result<usize, Reply> {
        match params.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| Reply::message(400, &format!("invalid '{name}' parameter: {raw:?}"))),
        }
    };

    match path.trim_end_matches('/') {
        "/products" => {
            let (limit, skip) = match (number("limit", DEFAULT_LIMIT), number("skip", 0)) {
                (Ok(limit), Ok(skip)) => (limit, skip),
                (Err(reply), _) | (_, Err(reply)) => return reply,
            };
            *state.requests.entry(skip).or_insert(0) += 1;
            let mut delay = None;
            if let Some((behaviour, seen)) = state.failures.get_mut(&skip) {
                let previous = *seen;
                *seen = seen.saturating_add(1);
                match *behaviour {
                    Behaviour::TooManyRequests {
                        times,
                        retry_after_secs,
                    } if previous < times => {
                        return Reply::Respond {
                            delay: None,
                            status: 429,
                            extra_headers: vec![("Retry-After", retry_after_secs.to_string())],
                            body:
                                json!({ "message": "Too many requests, please try again later." })
                                    .to_string(),
                        };
                    }
                    Behaviour::ServerError { times } if previous < times => {
                        return Reply::message(500, "Internal server error (test stub)");
                    }
                    Behaviour::Disconnect { times } if previous < times => return Reply::Hangup,
                    Behaviour::Malformed => {
                        return Reply::Respond {
                            delay: None,
                            status: 200,
                            extra_headers: Vec::new(),
                            body: MALFORMED_BODY.to_string(),
                        };
                    }
                    Behaviour::Slow(duration) => delay = Some(duration),
                    _ => {}
                }
            }
            Reply::Respond {
                delay,
                status: 200,
                extra_headers: Vec::new(),
                body: dummyjson_page(&state.catalog, limit, skip).to_string(),
            }
        }
        "/fakestore/products" => match params.get("limit").map(|raw| raw.parse::<usize>()) {
            Some(Err(_)) => Reply::message(400, "invalid 'limit' parameter"),
            limit => Reply::json(
                200,
                &fakestore_products(&state.catalog, limit.and_then(Result::ok)),
            ),
        },
        other => {
            let product = other
                .strip_prefix("/products/")
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|id| id.checked_sub(1))
                .and_then(|i| state.catalog.get(i));
            match product {
                Some(product) => Reply::json(200, product),
                None => Reply::message(404, &format!("no route for GET {path}")),
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// One raw HTTP/1.1 exchange: `None` when the server closed without answering.
    struct Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
        }
    }

    async fn request(stub: &ProductApiStub, method: &str, target: &str) -> Option<Answer> {
        let mut stream = TcpStream::connect(stub.addr()).await.unwrap();
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: testkit\r\nConnection: close\r\n\r\n",
            stub.addr()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        // A hang-up may surface as a reset rather than a clean end of stream.
        let _ = stream.read_to_end(&mut raw).await;
        if raw.is_empty() {
            return None;
        }
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let answer = Answer {
            status,
            headers,
            body: body.to_string(),
        };
        assert_eq!(answer.header("Connection"), Some("close"));
        assert_eq!(
            answer.header("Content-Length"),
            Some(answer.body.len().to_string().as_str())
        );
        Some(answer)
    }

    async fn get(stub: &ProductApiStub, target: &str) -> Answer {
        request(stub, "GET", target)
            .await
            .unwrap_or_else(|| panic!("no answer to GET {target}"))
    }

    fn ids(page: &Value) -> Vec<u64> {
        page["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn pages_are_dummyjson_shaped_and_paginate() {
        let stub = ProductApiStub::start(25).await;
        assert_eq!(stub.total(), 25);
        assert!(stub.base_url().starts_with("http://127.0.0.1:"));
        assert!(stub.base_url().ends_with("/products"));

        let first = get(&stub, "/products?limit=10&skip=0").await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("content-type"), Some("application/json"));
        let page = first.json();
        assert_eq!(ids(&page), (1..=10).collect::<Vec<_>>());
        assert_eq!(page["total"], 25);
        assert_eq!(page["skip"], 0);
        assert_eq!(page["limit"], 10);
        assert_eq!(page, stub.page(10, 0));

        let page = get(&stub, "/products?skip=10&limit=10").await.json();
        assert_eq!(ids(&page), (11..=20).collect::<Vec<_>>());

        // The last page is short, and (as on DummyJSON) `limit` says how many came back.
        let page = get(&stub, "/products?limit=10&skip=20").await.json();
        assert_eq!(ids(&page), (21..=25).collect::<Vec<_>>());
        assert_eq!(page["limit"], 5);
        assert_eq!(page["skip"], 20);

        let page = get(&stub, "/products?limit=10&skip=30").await.json();
        assert!(ids(&page).is_empty());
        assert_eq!(page["total"], 25);
        assert_eq!(page["limit"], 0);

        // Defaults: limit 30, skip 0; limit=0 means everything; unknown parameters ignored.
        assert_eq!(ids(&get(&stub, "/products").await.json()).len(), 25);
        assert_eq!(
            ids(&get(&stub, "/products?limit=0&skip=5&select=title")
                .await
                .json())
            .len(),
            20
        );

        assert_eq!(get(&stub, "/products?limit=ten").await.status, 400);

        // skip=0 and no skip count under 0; the 400 (bad limit) is not a page request.
        assert_eq!(stub.requests(0), 2);
        assert_eq!(stub.requests(5), 1);
        assert_eq!(stub.requests(10), 1);
        assert_eq!(stub.requests(20), 1);
        assert_eq!(stub.requests(30), 1);
        assert_eq!(stub.requests(7), 0);
        assert_eq!(stub.total_requests(), 7);
    }

    #[tokio::test]
    async fn catalog_is_deterministic_and_real_shaped() {
        let a = ProductApiStub::start(8).await;
        let b = ProductApiStub::start(8).await;
        assert_eq!(a.page(0, 0), b.page(0, 0));

        for id in 1..=8 {
            let p = a.product(id);
            assert_eq!(p["id"], id);
            assert_eq!(p["title"], format!("Product {id}"));
            assert_eq!(p["category"], CATEGORIES[(id - 1) % 4]);
            assert_eq!(p["sku"], format!("SKU-{id:04}"));
            assert_eq!(p["stock"], 10 + id);
            assert_eq!(p["discountPercentage"], 5.5);
            assert_eq!(p["rating"], 4.2);
            assert_eq!(p["meta"]["createdAt"], TIMESTAMP);
            assert!(
                p["description"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Product {id}"))
            );
            let price = p["price"].as_f64().unwrap();
            assert!((9.99..100.0).contains(&price), "{price}");
            assert!(((price * 100.0).round() / 100.0 - price).abs() < f64::EPSILON);
            // Real DummyJSON groceries carry no brand.
            assert_eq!(
                p.get("brand").is_none(),
                p["category"] == "groceries",
                "{p}"
            );
        }
        assert_eq!(a.product(1)["price"], 11.36);
        assert_ne!(a.product(1)["price"], a.product(2)["price"]);

        let one = get(&a, "/products/3").await;
        assert_eq!(one.status, 200);
        assert_eq!(one.json(), a.product(3));
        assert_eq!(get(&a, "/products/9").await.status, 404);
    }

    #[tokio::test]
    async fn fakestore_route_serves_the_catalog_as_an_array() {
        let stub = ProductApiStub::start(6).await;
        assert!(stub.fakestore_url().ends_with("/fakestore/products"));
        let answer = get(&stub, "/fakestore/products").await;
        assert_eq!(answer.status, 200);
        let all = answer.json();
        let items = all.as_array().unwrap();
        assert_eq!(items.len(), 6);
        let first = &items[0];
        let mut keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "category",
                "description",
                "id",
                "image",
                "price",
                "rating",
                "title"
            ]
        );
        assert_eq!(first["id"], 1);
        assert_eq!(first["price"], stub.product(1)["price"]);
        assert_eq!(first["rating"]["rate"], 4.2);
        assert_eq!(first["rating"]["count"], 11);
        assert_eq!(first["image"], "https://fakestoreapi.com/img/1.jpg");
        let limited = get(&stub, "/fakestore/products?limit=2").await.json();
        assert_eq!(limited.as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_404() {
        let stub = ProductApiStub::start(3).await;
        assert_eq!(get(&stub, "/nope").await.status, 404);
        assert_eq!(get(&stub, "/").await.status, 404);
        let post = request(&stub, "POST", "/products").await.unwrap();
        assert_eq!(post.status, 404);
        assert!(post.json()["message"].is_string());
        assert_eq!(stub.total_requests(), 3);
        assert_eq!(stub.requests(0), 0);
    }

    #[tokio::test]
    async fn too_many_requests_then_normal() {
        let stub = ProductApiStub::start(30).await;
        stub.fail(
            10,
            Behaviour::TooManyRequests {
                times: 2,
                retry_after_secs: 3,
            },
        );
        for _ in 0..2 {
            let answer = get(&stub, "/products?limit=10&skip=10").await;
            assert_eq!(answer.status, 429);
            assert_eq!(answer.header("Retry-After"), Some("3"));
            assert!(answer.json()["message"].is_string());
        }
        let answer = get(&stub, "/products?limit=10&skip=10").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("retry-after"), None);
        assert_eq!(ids(&answer.json()), (11..=20).collect::<Vec<_>>());
        // Other pages are unaffected.
        assert_eq!(get(&stub, "/products?limit=10&skip=0").await.status, 200);
        assert_eq!(stub.requests(10), 3);
        assert_eq!(stub.requests(0), 1);
        assert_eq!(stub.total_requests(), 4);
    }

    #[tokio::test]
    async fn server_error_for_a_number_of_times_or_always() {
        let stub = ProductApiStub::start(30).await;
        stub.fail(0, Behaviour::ServerError { times: 1 });
        stub.fail(20, Behaviour::ServerError { times: usize::MAX });
        assert_eq!(get(&stub, "/products?limit=10&skip=0").await.status, 500);
        assert_eq!(get(&stub, "/products?limit=10&skip=0").await.status, 200);
        for _ in 0..4 {
            assert_eq!(get(&stub, "/products?limit=10&skip=20").await.status, 500);
        }
        assert_eq!(stub.requests(0), 2);
        assert_eq!(stub.requests(20), 4);

        // Re-programming resets the count; clearing restores normal answers.
        stub.fail(0, Behaviour::ServerError { times: 1 });
        assert_eq!(get(&stub, "/products?limit=10&skip=0").await.status, 500);
        stub.clear(20);
        assert_eq!(get(&stub, "/products?limit=10&skip=20").await.status, 200);
        assert_eq!(stub.total_requests(), 8);
    }

    #[tokio::test]
    async fn slow_answers_normally_after_the_delay_every_time() {
        let stub = ProductApiStub::start(30).await;
        let delay = Duration::from_millis(300);
        stub.fail(10, Behaviour::Slow(delay));
        for _ in 0..2 {
            let started = Instant::now();
            let answer = get(&stub, "/products?limit=10&skip=10").await;
            assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
            assert_eq!(answer.status, 200);
            assert_eq!(ids(&answer.json()), (11..=20).collect::<Vec<_>>());
        }
        // A slow page does not hold up the others.
        let started = Instant::now();
        let (slow, fast) = tokio::join!(
            get(&stub, "/products?limit=10&skip=10"),
            get(&stub, "/products?limit=10&skip=0")
        );
        assert_eq!((slow.status, fast.status), (200, 200));
        assert!(started.elapsed() < delay * 3);
        assert_eq!(stub.requests(10), 3);
    }

    #[tokio::test]
    async fn malformed_is_200_with_invalid_json_every_time() {
        let stub = ProductApiStub::start(30).await;
        stub.fail(20, Behaviour::Malformed);
        for _ in 0..3 {
            let answer = get(&stub, "/products?limit=10&skip=20").await;
            assert_eq!(answer.status, 200);
            assert_eq!(answer.header("content-type"), Some("application/json"));
            assert!(serde_json::from_str::<Value>(&answer.body).is_err());
        }
        assert_eq!(stub.requests(20), 3);
    }

    #[tokio::test]
    async fn disconnect_hangs_up_then_serves() {
        let stub = ProductApiStub::start(30).await;
        stub.fail(0, Behaviour::Disconnect { times: 2 });
        assert!(
            request(&stub, "GET", "/products?limit=10&skip=0")
                .await
                .is_none()
        );
        assert!(
            request(&stub, "GET", "/products?limit=10&skip=0")
                .await
                .is_none()
        );
        assert_eq!(get(&stub, "/products?limit=10&skip=0").await.status, 200);
        assert_eq!(stub.requests(0), 3);
    }

    #[tokio::test]
    async fn set_price_changes_later_answers() {
        let stub = ProductApiStub::start(12).await;
        let before = get(&stub, "/products?limit=5&skip=0").await.json();
        assert_eq!(before["products"][1]["price"], stub.product(2)["price"]);
        stub.set_price(2, 123.45);
        assert_eq!(stub.product(2)["price"], 123.45);
        let after = get(&stub, "/products?limit=5&skip=0").await.json();
        assert_eq!(after["products"][1]["price"], 123.45);
        assert_ne!(after["products"][1]["meta"]["updatedAt"], TIMESTAMP);
        assert_eq!(after["products"][0], before["products"][0]);
        let fakestore = get(&stub, "/fakestore/products").await.json();
        assert_eq!(fakestore[1]["price"], 123.45);
    }

    #[tokio::test]
    #[should_panic(expected = "no product 4")]
    async fn product_out_of_range_panics() {
        let stub = ProductApiStub::start(3).await;
        let _ = stub.product(4);
    }

    #[tokio::test]
    async fn dropping_the_stub_stops_the_server() {
        let stub = ProductApiStub::start(3).await;
        let addr = stub.addr();
        assert_eq!(get(&stub, "/products").await.status, 200);
        drop(stub);
        // Let the runtime cancel the aborted task.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
