# The environment `make run` chooses, sourced by scripts/run.sh (and by tests/certctl/test_run_env.py): demo
# defaults, the demo receiver's ports, and every channel the operator left unconfigured pointed at the demo
# receiver (a channel with its own settings keeps them), with loopback added to
# CERTCTL_NOTIFICATION_ALLOWED_NETWORKS when an HTTP channel is among them. Exits 2 on a port that is not a port.
# Sets `demo_channels` (array): the channels sent to the demo receiver. `write_run_env` records the result in
# $CERTCTL_DATA_DIR/run.env, which certctl/settings.py reads, so later manage.py commands see the same.

require_port() {
    if ! [[ "$2" =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        echo "make run: $1 must be a port number (1-65535), got '$2'" >&2
        exit 2
    fi
}

export CERTCTL_DEBUG=${CERTCTL_DEBUG:-true}
export CERTCTL_PORT=${CERTCTL_PORT:-8000}
require_port CERTCTL_PORT "$CERTCTL_PORT"
export CERTCTL_DATA_DIR=${CERTCTL_DATA_DIR:-$PWD/data}
export CERTCTL_PUBLIC_URL=${CERTCTL_PUBLIC_URL:-http://127.0.0.1:$CERTCTL_PORT}

# The demo receiver takes the two ports after CERTCTL_PORT (the two before it at the top of the range).
receiver_base=$((10#$CERTCTL_PORT <= 65533 ? 10#$CERTCTL_PORT + 1 : 10#$CERTCTL_PORT - 2))
export CERTCTL_DEMO_RECEIVER_HTTP_PORT=${CERTCTL_DEMO_RECEIVER_HTTP_PORT:-$receiver_base}
export CERTCTL_DEMO_RECEIVER_SMTP_PORT=${CERTCTL_DEMO_RECEIVER_SMTP_PORT:-$((receiver_base + 1))}
require_port CERTCTL_DEMO_RECEIVER_HTTP_PORT "$CERTCTL_DEMO_RECEIVER_HTTP_PORT"
require_port CERTCTL_DEMO_RECEIVER_SMTP_PORT "$CERTCTL_DEMO_RECEIVER_SMTP_PORT"
if [ "$(printf '%s\n' $((10#$CERTCTL_PORT)) $((10#$CERTCTL_DEMO_RECEIVER_HTTP_PORT)) \
    $((10#$CERTCTL_DEMO_RECEIVER_SMTP_PORT)) | sort -u | wc -l)" -ne 3 ]; then
    echo "make run: CERTCTL_PORT, CERTCTL_DEMO_RECEIVER_HTTP_PORT and CERTCTL_DEMO_RECEIVER_SMTP_PORT must differ" >&2
    exit 2
fi

# The demo TLS lab (four ports) the demo scan profile scans: CERTCTL_PORT + 443 upward (8443-8446 by default).
lab_base=$((10#$CERTCTL_PORT <= 65000 ? 10#$CERTCTL_PORT + 443 : 10#$CERTCTL_PORT - 500))
export CERTCTL_DEMO_TLS_LAB_PORT=${CERTCTL_DEMO_TLS_LAB_PORT:-$lab_base}
require_port CERTCTL_DEMO_TLS_LAB_PORT "$CERTCTL_DEMO_TLS_LAB_PORT"

# A channel is the operator's as soon as its main variable is set; only the others go to the demo receiver.
demo_channels=()
if [ "${CERTCTL_DEMO_RECEIVER:-true}" != false ]; then
    receiver="http://127.0.0.1:$CERTCTL_DEMO_RECEIVER_HTTP_PORT"
    if [ -z "${CERTCTL_SMTP_HOST:-}" ]; then
        export CERTCTL_SMTP_HOST=127.0.0.1 CERTCTL_SMTP_PORT=$CERTCTL_DEMO_RECEIVER_SMTP_PORT
        export CERTCTL_SMTP_SECURITY=none CERTCTL_SMTP_FROM_ADDRESS=${CERTCTL_SMTP_FROM_ADDRESS:-certctl@localhost}
        unset CERTCTL_SMTP_USERNAME CERTCTL_SMTP_PASSWORD
        demo_channels+=(Email)
    fi
    if [ -z "${CERTCTL_WEBHOOK_URL:-}" ]; then
        export CERTCTL_WEBHOOK_URL=$receiver/webhook/demo
        demo_channels+=(Webhook)
    fi
    if [ -z "${CERTCTL_SLACK_WEBHOOK_URL:-}" ]; then
        export CERTCTL_SLACK_WEBHOOK_URL=$receiver/slack/demo
        demo_channels+=(Slack)
    fi
    if [ -z "${CERTCTL_TEAMS_WEBHOOK_URL:-}" ]; then
        export CERTCTL_TEAMS_WEBHOOK_URL=$receiver/teams/demo
        demo_channels+=(Teams)
    fi
    if [ -z "${CERTCTL_PAGERDUTY_ROUTING_KEY:-}" ]; then
        export CERTCTL_PAGERDUTY_ROUTING_KEY=demo-routing-key CERTCTL_PAGERDUTY_EVENTS_URL=$receiver/pagerduty/demo
        demo_channels+=(PagerDuty)
    fi
    if [ -z "${CERTCTL_OPSGENIE_API_KEY:-}" ]; then
        export CERTCTL_OPSGENIE_API_KEY=demo-api-key CERTCTL_OPSGENIE_API_URL=$receiver/opsgenie/demo
        demo_channels+=(OpsGenie)
    fi
    # HTTP deliveries reach public addresses only; the demo receiver is on loopback, so let them reach it.
    if [[ " ${demo_channels[*]} " =~ \ (Webhook|Slack|Teams|PagerDuty|OpsGenie)\  ]]; then
        allowed=${CERTCTL_NOTIFICATION_ALLOWED_NETWORKS:-}
        export CERTCTL_NOTIFICATION_ALLOWED_NETWORKS=${allowed:+$allowed,}127.0.0.1/32,::1/128
    fi
fi

# Every certctl variable of this run except the admin password (used once, by prepare_run) and the data dir
# (the file lives in it). Mode 0600 like the generated keys beside it: it may hold secrets you exported.
write_run_env() {
    local file="$CERTCTL_DATA_DIR/run.env" tmp name
    tmp=$(mktemp "$file.XXXXXX")
    {
        echo "# Written by make run (scripts/run.sh) at every start. certctl/settings.py reads it for each variable"
        echo "# the environment does not set, so manage.py and certctl-manage see what make run set up."
        for name in $(compgen -e | LC_ALL=C sort); do
            case $name in
                CERTCTL_ADMIN_PASSWORD | CERTCTL_DATA_DIR) continue ;;
                CERTCTL_* | DATABASE_URL | REDIS_URL | CELERY_BROKER_URL) ;;
                *) continue ;;
            esac
            [[ ${!name} == *$'\n'* ]] && continue # one line per variable; such a value cannot be written
            printf '%s=%s\n' "$name" "${!name}"
        done
    } >"$tmp"
    mv -f "$tmp" "$file"
}
