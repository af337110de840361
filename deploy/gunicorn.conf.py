"""gunicorn settings of one app host: `gunicorn --config deploy/gunicorn.conf.py run:app`
(deploy/kundeportal.service). What differs per host comes from the environment file."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from typing import Any

# Where nginx reaches this host; the firewall lets only the nginx host in.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Sync workers, one request per process: FAB shares a view's filter state between threads.
worker_class = "sync"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
timeout = 60
graceful_timeout = 30
# FORWARDED_ALLOW_IPS (read by gunicorn itself from the environment) names the nginx host: only
# its X-Forwarded-Proto (https) and X-Forwarded-For (the customer's address) are believed.
accesslog = "-"
access_log_format = '%({x-real-ip}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
control_socket_disable = True
proc_name = "kundeportal"


def behind_proxy(app: Callable[..., Any], trusted: Iterable[str]) -> Callable[..., Any]:
    """The app with the customer's address as REMOTE_ADDR: the last X-Forwarded-For entry (the one
    nginx adds), taken only from a trusted peer. The login throttle counts per address; without
    this every customer would share the nginx host's."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    fixed = ProxyFix(app, x_for=1, x_proto=0, x_host=0, x_port=0, x_prefix=0)
    names = list(trusted)
    networks = [ipaddress.ip_network(name.strip(), strict=False) for name in names if name.strip() != "*"]

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:  # a unix socket: only a local proxy can reach it
            return fixed(environ, start_response)
        if "*" in names or any(peer in network for network in networks):
            return fixed(environ, start_response)
        return app(environ, start_response)

    return wsgi


def post_worker_init(worker: Any) -> None:
    worker.wsgi = behind_proxy(worker.wsgi, worker.cfg.forwarded_allow_ips)
