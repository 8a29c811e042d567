#!/bin/sh
# The Docker documentation's macvlan example, with a VLAN.
docker network create -d macvlan \
  --subnet=172.16.86.0/24 \
  --gateway=172.16.86.1 \
  --ip-range=172.16.86.128/25 \
  -o parent=eth0.50 pub_net
docker run --rm -dit --network pub_net --name my-macvlan-alpine alpine:latest ash
docker run -d --network pub_net --ip 172.16.86.10 --name fixed alpine:latest
