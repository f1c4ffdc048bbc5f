@echo off
rem Server isolation for the SQL servers plus a tunnel to the branch office.
rem Written the way administrators wrote netsh scripts for Windows Server 2003.
netsh ipsec static add policy name="SQL Isolation" description="Require IPsec to the SQL servers" mmpfs=no activatedefaultrule=no mmsec="3DES-SHA1-2 3DES-SHA1-3 AES256-SHA256-14"
netsh ipsec static add filterlist name="SQL Servers" description="TCP 1433 to the SQL servers"
netsh ipsec static add filter filterlist="SQL Servers" srcaddr=any dstaddr=10.1.2.10 protocol=TCP dstport=1433 mirrored=yes description="SQL1"
netsh ipsec static add filter filterlist="SQL Servers" srcaddr=any dstaddr=10.1.3.0 dstmask=255.255.255.0 protocol=TCP dstport=1433
netsh ipsec static add filterlist name="Exempt"
netsh ipsec static add filter filterlist="Exempt" srcaddr=me dstaddr=DNS protocol=UDP dstport=53
netsh ipsec static add filter filterlist="Exempt" srcaddr=me dstaddr=GATEWAY
netsh ipsec static add filterlist name="HQ to Branch"
netsh ipsec static add filter filterlist="HQ to Branch" srcaddr=10.1.0.0 srcmask=16 dstaddr=10.2.0.0 dstmask=16 mirrored=no
netsh ipsec static add filteraction name="Require ESP" qmpfs=yes soft=no inpass=no action=negotiate qmsecmethods="ESP[AES256,SHA256]:100000k/3600s ESP[3DES,SHA1]:100000k/3600s AH[SHA1]+ESP[AES128,SHA1]"
netsh ipsec static add filteraction name="Exempt" action=permit
netsh ipsec static add rule name="SQL" policy="SQL Isolation" filterlist="SQL Servers" filteraction="Require ESP" conntype=lan psk="s3cret-key" rootca="CN=Corp Root CA, O=Example certmap:yes excludecaname:no"
netsh ipsec static add rule name="Exemptions" policy="SQL Isolation" filterlist="Exempt" filteraction="Exempt"
netsh ipsec static add rule name="Tunnel to branch" policy="SQL Isolation" filterlist="HQ to Branch" filteraction="Require ESP" tunnel=198.51.100.2 psk="tunnel-key"
netsh ipsec static set policy name="SQL Isolation" assign=yes
