#!/usr/bin/env python3
# Usage: scripts/webhook-load.py HOST:PORT SHOPIFY_SECRET N THREADS (a gateway started with --shopify-secret).
# Load client for POST /webhooks/shopify: N signed orders/create deliveries
# over keep-alive connections from T threads; prints requests/s and latency.
import base64, hashlib, hmac, http.client, json, sys, threading, time
addr, secret, n, threads = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
host, port = addr.split(':')
lat = []
lock = threading.Lock()
def worker(k):
    c = http.client.HTTPConnection(host, int(port))
    mine = []
    for i in range(k, n, threads):
        body = json.dumps({"id": 820982911946154508 + i, "created_at": "2024-01-15T10:30:00-05:00", "currency": "USD",
            "financial_status": "paid", "source_name": "web", "total_price": "199.00", "customer": {"id": 207119551 + i % 500},
            "line_items": [{"product_id": 632910392 + i % 50, "quantity": 1, "price": "199.00"}]}).encode()
        sig = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        t = time.perf_counter()
        c.request("POST", "/webhooks/shopify", body, {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": sig,
                  "X-Shopify-Webhook-Id": f"load-{i}", "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        mine.append(time.perf_counter() - t)
    with lock: lat.extend(mine)
t0 = time.perf_counter()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
el = time.perf_counter() - t0
lat.sort()
print(f"{n} webhooks in {el:.2f} s = {n/el:.0f}/s; latency p50 {lat[len(lat)//2]*1e3:.2f} ms p99 {lat[int(len(lat)*0.99)]*1e3:.2f} ms")
