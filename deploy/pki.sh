#!/usr/bin/env bash
# pki.sh: the private certificate authority of shuttle's MQTT broker: the
# CA, the broker's certificate, one client certificate per bus or service,
# and the revocation list the broker checks (deploy/mosquitto/mosquitto.conf).
#
#   pki.sh init DIR [DNS_NAME...]  the CA, the broker's certificate (SAN
#                                  IP:127.0.0.1, DNS:localhost and the names
#                                  given) and an empty CRL; parts already
#                                  there are kept (delete broker.crt to
#                                  re-issue it with other names)
#   pki.sh add DIR NAME            one identity, CN=NAME: DIR/clients/NAME.crt
#                                  and .key (a bus: bus-12; a service:
#                                  shuttle-ingest, shuttle-live, displays)
#   pki.sh revoke DIR NAME         revoke NAME's certificate, rewrite the CRL
#   pki.sh crl DIR                 rewrite the CRL (it is valid for
#                                  PKI_CRL_DAYS, 365 by default: the broker
#                                  refuses everyone once it has expired)
#
# Keys are made with mode 0600 and never leave DIR; only ca.crt, broker.crt,
# broker.key and crl.pem go to the broker, NAME.crt and NAME.key to that bus
# only. Keep DIR (with ca.key) off the broker and backed up. Runs as any
# user: files belong to whoever runs it (the broker's user must be able to
# read broker.key where it is installed). Exit status 0, 1 on an error
# (with the reason on stderr), 2 on bad usage.
set -euo pipefail

PKI_DAYS=${PKI_DAYS:-3650}
PKI_CRL_DAYS=${PKI_CRL_DAYS:-365}

die() {
  echo "pki.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '6,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"

# openssl ca keeps its database in DIR; its config is rewritten every run so
# that DIR can be moved (the paths in it are absolute).
write_conf() {
  local dir=$1
  cat >"$dir/openssl.cnf" <<CNF
# written by pki.sh: openssl ca's settings for this PKI
[ ca ]
default_ca = shuttle_ca

[ shuttle_ca ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = $PKI_DAYS
default_crl_days = $PKI_CRL_DAYS
policy = shuttle_policy
# a bus whose key was lost is revoked and gets a new certificate, same name
unique_subject = no
copy_extensions = none
email_in_dn = no

[ shuttle_policy ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ ext_ca ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ ext_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
}

# A new P-256 key at PATH, mode 0600 from its first byte.
new_key() {
  (umask 077 && openssl genpkey -algorithm EC \
    -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null) ||
    die "could not make the key $1"
  chmod 600 "$1"
}

need_pki() {
  local dir=$1
  if [ ! -f "$dir/ca.key" ] || [ ! -f "$dir/ca.crt" ] ||
    [ ! -f "$dir/index.txt" ]; then
    die "$dir is not a PKI made by 'pki.sh init' (no ca.key, ca.crt or index.txt)"
  fi
  [ -r "$dir/ca.key" ] || die "cannot read $dir/ca.key (run as its owner)"
}

# Names become MQTT user names and the <id> in shuttle/v1/<id>/..., so only
# what a vehicle_id may be; "stops" is the displays' part of the tree.
check_name() {
  local name=$1
  [[ $name =~ ^[A-Za-z0-9_-]{1,64}$ ]] ||
    die "bad name '$name': 1 to 64 letters, digits, - and _"
  case $name in
  stops | ca | broker | crl) die "'$name' is reserved" ;;
  esac
}

make_crl() {
  local dir=$1
  openssl ca -batch -config "$dir/openssl.cnf" -gencrl \
    -out "$dir/crl.pem.new" 2>"$dir/openssl.log" ||
    die "could not make the CRL: $(tail -n 3 "$dir/openssl.log")"
  chmod 644 "$dir/crl.pem.new"
  mv -f "$dir/crl.pem.new" "$dir/crl.pem"
}

# The serial of the certificate at PATH, as index.txt spells it.
serial_of() {
  openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

# V (valid), R (revoked) or E (expired) from index.txt for SERIAL.
status_of() {
  awk -F'\t' -v s="$2" '$4 == s { print $1 }' "$1/index.txt"
}

cmd_init() {
  local dir=$1
  shift
  local san="IP:127.0.0.1,DNS:localhost" n
  for n in "$@"; do
    [[ $n =~ ^[A-Za-z0-9.-]{1,253}$ ]] || die "bad DNS name '$n'"
    san="$san,DNS:$n"
  done
  mkdir -p "$dir" || die "cannot make $dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/newcerts" "$dir/clients"
  chmod 700 "$dir/clients"
  write_conf "$dir"
  [ -f "$dir/index.txt" ] || : >"$dir/index.txt"
  [ -f "$dir/serial" ] || openssl rand -hex 16 >"$dir/serial"
  [ -f "$dir/crlnumber" ] || echo 1000 >"$dir/crlnumber"
  if [ ! -f "$dir/ca.key" ]; then
    rm -f "$dir/ca.crt"
    new_key "$dir/ca.key"
  fi
  if [ ! -f "$dir/ca.crt" ]; then
    openssl req -new -x509 -config "$dir/openssl.cnf" -key "$dir/ca.key" \
      -subj "/CN=shuttle private CA" -days "$PKI_DAYS" -sha256 \
      -extensions ext_ca -out "$dir/ca.crt" 2>"$dir/openssl.log" ||
      die "could not make the CA: $(tail -n 3 "$dir/openssl.log")"
    echo "pki.sh: made the CA $dir/ca.crt"
  fi
  if [ ! -f "$dir/broker.crt" ] || [ ! -f "$dir/broker.key" ]; then
    [ -f "$dir/broker.key" ] || new_key "$dir/broker.key"
    # The broker's certificate is signed directly (x509 -req), not through
    # the ca database: revoking a client never touches it.
    openssl req -new -config "$dir/openssl.cnf" -key "$dir/broker.key" \
      -subj "/CN=shuttle broker" -out "$dir/broker.csr" 2>"$dir/openssl.log" ||
      die "could not make the broker's request"
    openssl x509 -req -in "$dir/broker.csr" -CA "$dir/ca.crt" \
      -CAkey "$dir/ca.key" -CAcreateserial -CAserial "$dir/broker.srl" \
      -days "$PKI_DAYS" -sha256 -out "$dir/broker.crt" \
      -extfile <(printf '%s\n' "basicConstraints=critical,CA:false" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=$san") \
      2>"$dir/openssl.log" ||
      die "could not sign the broker's certificate: $(tail -n 3 "$dir/openssl.log")"
    rm -f "$dir/broker.csr"
    echo "pki.sh: made the broker's certificate $dir/broker.crt ($san)"
  fi
  [ -f "$dir/crl.pem" ] || make_crl "$dir"
}

cmd_add() {
  local dir=$1 name=$2 crt key st
  check_name "$name"
  need_pki "$dir"
  dir=$(cd "$dir" && pwd)
  write_conf "$dir"
  crt="$dir/clients/$name.crt"
  key="$dir/clients/$name.key"
  if [ -f "$crt" ]; then
    st=$(status_of "$dir" "$(serial_of "$crt")")
    if [ "$st" = V ]; then
      echo "pki.sh: $name exists: $crt"
      return 0
    fi
    # revoked (or expired): a new key and certificate under the same name
    mv -f "$crt" "$crt.old"
    rm -f "$key"
  fi
  new_key "$key"
  openssl req -new -config "$dir/openssl.cnf" -key "$key" -subj "/CN=$name" \
    -out "$dir/clients/$name.csr" 2>"$dir/openssl.log" ||
    die "could not make $name's request"
  openssl ca -batch -notext -config "$dir/openssl.cnf" -extensions ext_client \
    -in "$dir/clients/$name.csr" -out "$crt" 2>"$dir/openssl.log" ||
    die "could not sign $name's certificate: $(tail -n 3 "$dir/openssl.log")"
  rm -f "$dir/clients/$name.csr"
  echo "pki.sh: made $name: $crt and $key"
}

cmd_revoke() {
  local dir=$1 name=$2 crt st
  check_name "$name"
  need_pki "$dir"
  dir=$(cd "$dir" && pwd)
  write_conf "$dir"
  crt="$dir/clients/$name.crt"
  [ -f "$crt" ] || die "no identity '$name' in $dir (no $crt)"
  st=$(status_of "$dir" "$(serial_of "$crt")")
  if [ "$st" != R ]; then
    openssl ca -batch -config "$dir/openssl.cnf" -revoke "$crt" \
      -crl_reason keyCompromise 2>"$dir/openssl.log" ||
      die "could not revoke $name: $(tail -n 3 "$dir/openssl.log")"
  fi
  make_crl "$dir"
  echo "pki.sh: revoked $name; copy $dir/crl.pem to the broker and reload it (SIGHUP)"
}

cmd_crl() {
  local dir=$1
  need_pki "$dir"
  dir=$(cd "$dir" && pwd)
  write_conf "$dir"
  make_crl "$dir"
  echo "pki.sh: wrote $dir/crl.pem (valid $PKI_CRL_DAYS days)"
}

[ $# -ge 2 ] || usage
verb=$1
dir=$2
shift 2
case $verb in
init) cmd_init "$dir" "$@" ;;
add)
  [ $# -eq 1 ] || usage
  cmd_add "$dir" "$1"
  ;;
revoke)
  [ $# -eq 1 ] || usage
  cmd_revoke "$dir" "$1"
  ;;
crl)
  [ $# -eq 0 ] || usage
  cmd_crl "$dir"
  ;;
*) usage ;;
esac
