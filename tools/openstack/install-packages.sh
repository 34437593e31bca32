#!/usr/bin/env bash
# Installs the Debian bookworm (OpenStack Zed) packages that
# `nodewarden lab openstack up` runs: MariaDB, RabbitMQ, uWSGI and the
# services' Python code. Only the python3-* code packages are installed, not
# the service packages (keystone, nova-api, ...): their maintainer scripts ask
# debconf questions, set up databases and start daemons, while the lab writes
# its own configuration and starts every process itself. Never nova-compute:
# it pulls libvirt and QEMU; the lab runs compute with the fake virt driver.
#
# A policy-rc.d that denies every start keeps the packages' scripts from
# starting MariaDB and RabbitMQ as system services; one that is already there
# (containers often have one) is left alone.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  mariadb-server rabbitmq-server
  uwsgi-core uwsgi-plugin-python3
  python3-keystone python3-placement python3-glance python3-neutron python3-nova
  python3-fixtures python3-pymysql
)
policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# nodewarden: deny service starts during package installation\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
cleanup() { if [ "$ours" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=900 "${PACKAGES[@]}" >/dev/null
echo "openstack packages installed: ${PACKAGES[*]}"
