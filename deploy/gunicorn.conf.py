"""gunicorn settings of one app host: `gunicorn --config deploy/gunicorn.conf.py run:app`
(deploy/kundeportal.service). What differs per host comes from the environment file."""

import os

# Where nginx reaches this host; the firewall lets only the nginx host in.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Sync workers, one request per process: FAB shares a view's filter state between threads.
worker_class = "sync"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
timeout = 60
graceful_timeout = 30
# X-Forwarded-Proto is believed only from FORWARDED_ALLOW_IPS (gunicorn reads it from the
# environment itself): set it to the nginx host's address.
accesslog = "-"
access_log_format = '%({x-real-ip}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
control_socket_disable = True
proc_name = "kundeportal"
