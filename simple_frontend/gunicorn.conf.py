"""gunicorn's configuration for the dashboard and its API, the one place production serving
is set (the Dockerfile and benchmarks/api_latency.py use it):

    gunicorn -c simple_frontend/gunicorn.conf.py 'simple_frontend.factory:create_app()'

Where it listens and how many workers and threads come from the dashboard's settings
(FRONTEND_HOST, FRONTEND_PORT, FRONTEND_WORKERS, FRONTEND_THREADS; see .env.example);
options given on gunicorn's command line win over these.

gthread workers: a request mostly waits on Elasticsearch (or is answered from the cache,
simple_frontend/cache.py), so threads serve many clients per process; one process per
core keeps the Python work parallel. The app is not preloaded: each worker makes its own
Elasticsearch client (its own connection pool) after the fork, and its own answer cache.
Measured on the 2-core machine (benchmarks/api_latency.py, answers from the cache, load
~12): 2 workers x 8 threads served 1859-1972 req/s; x 4 threads about half (930-1020),
x 16 no more (1816-1891): two runs each, so a rule of thumb, not a law.
"""

from simple_frontend.settings import FrontendSettings

_settings = FrontendSettings.from_env()

wsgi_app = "simple_frontend.factory:create_app()"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
preload_app = False
# Keep-alive connections from Traefik (or a benchmark) are reused instead of reopened.
keepalive = 5
timeout = 30
graceful_timeout = 20
# A worker is replaced after this many requests (with jitter), so slow leaks cannot grow.
max_requests = 100_000
max_requests_jitter = 5_000
# No access log of its own: Traefik in front logs every request, and the app's Prometheus
# histogram (pipeline_api_request_seconds) times them; `--access-logfile -` turns it on.
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "count-dashboard"
