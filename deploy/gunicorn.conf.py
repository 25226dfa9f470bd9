"""gunicorn settings for pixseek's web app in server mode.

`pixseek serve` (server mode) sets the same values itself in web/server.py; this file is for
running gunicorn directly, e.g. to tune it beyond what the PIXSEEK_ settings offer:

    gunicorn -c deploy/gunicorn.conf.py 'web.app:create_app()'

The images carry it as /etc/pixseek/gunicorn.conf.py. Settings come from the same PIXSEEK_
variables as everywhere else; gunicorn's own GUNICORN_CMD_ARGS and command-line flags still
override what is set here.
"""

from __future__ import annotations

import os

from pixseek.settings import load_settings

_settings = load_settings()
_host = f"[{_settings.host}]" if ":" in _settings.host else _settings.host

bind = f"{_host}:{_settings.port}"
workers = _settings.web_workers  # each process loads its own model (about 0.5 GB for ViT-B-32)
threads = 4  # requests wait on the index or the model, not on Python
# The app is built after the fork, so each process opens its own index and broker connections.
preload_app = False
# A process builds the app (and loads the model) before it answers anything; the first start
# may also download the weights.
timeout = 120
graceful_timeout = 30
accesslog = "-"
# Worker heartbeats go to a file; on a container's overlay filesystem writes to it can stall.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# X-Forwarded-* are believed only as PIXSEEK_TRUSTED_PROXIES says (the app's ProxyFix), not by
# gunicorn, which by default believes X-Forwarded-Proto from 127.0.0.1.
forwarded_allow_ips = ""
