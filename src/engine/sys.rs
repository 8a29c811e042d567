//! Every `unsafe` line of the engine: AF_PACKET sockets (bind, options, interface queries by
//! ioctl), batched `sendmmsg`/`recvmmsg` with PACKET_AUXDATA, the TPACKET_V3 receive ring
//! (setup, mmap, block walk, release) and the TPACKET_V2 transmit ring. It hands out safe types
//! whose methods check every offset the kernel gives before reading; it knows nothing of test
//! payloads, flows, pacing or signals. Sockets act in the namespace of the thread that opens
//! them. Private to the engine: what the rest of mvlab needs of it, `engine` re-exports.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use crate::addr::MacAddr;

/// The most frames one `sendmmsg`/`recvmmsg` call handles.
pub const MAX_BATCH: usize = 256;

/// What a packet socket receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Nothing: a send-only socket, so the kernel never copies frames to it.
    Nothing,
    /// Every frame, both directions.
    All,
}

/// The `sll_pkttype` values mvlab tells apart (linux/if_packet.h).
pub mod pkttype {
    pub const HOST: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const MULTICAST: u8 = 2;
    pub const OUTGOING: u8 = 4;
}

/// An AF_PACKET raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn last_error(context: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{context}: {e}"))
}

/// What `sendmmsg` returned: how many frames the kernel took, or its error with the errno kept
/// (callers tell a full queue, ENOBUFS or EAGAIN, from a real failure by it).
fn sent_count(sent: libc::c_int) -> io::Result<usize> {
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

fn check(ret: libc::c_int, context: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_error(context))
    } else {
        Ok(ret)
    }
}

/// An `ifreq` naming `iface`; `InvalidInput` for names the kernel could never hold.
fn ifreq_for(iface: &str) -> io::Result<libc::ifreq> {
    let name = CString::new(iface).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name `{iface}` contains a NUL byte"),
        )
    })?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { zeroed() };
    if bytes.len() > req.ifr_name.len() || bytes.len() == 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{iface}` is not a valid interface name (1 to 15 bytes)"),
        ));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

impl PacketSocket {
    /// Opens a raw packet socket on `iface` in the calling thread's namespace. A missing
    /// interface is `NotFound`.
    pub fn open(iface: &str, listen: Listen) -> io::Result<PacketSocket> {
        let protocol = match listen {
            Listen::Nothing => 0u16,
            Listen::All => (libc::ETH_P_ALL as u16).to_be(),
        };
        // The socket starts deaf (protocol 0) and hears frames only once bound below.
        // SAFETY: plain syscall; the result is checked before use.
        let fd = check(
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) },
            "opening an AF_PACKET socket",
        )?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut socket = PacketSocket { fd, ifindex: 0 };
        let mut req = ifreq_for(iface)?;
        socket.ioctl(libc::SIOCGIFINDEX, &mut req).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("interface `{iface}` does not exist in this namespace"),
                )
            } else {
                e
            }
        })?;
        // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
        socket.ifindex = unsafe { req.ifr_ifru.ifru_ifindex };
        socket.bind(protocol)?;
        Ok(socket)
    }

    /// Binds to the interface for `protocol` (network order; 0 receives nothing).
    fn bind(&self, protocol: u16) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = self.ifindex;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        check(
            unsafe {
                libc::bind(
                    self.fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_ll).cast(),
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            },
            "binding a packet socket",
        )
        .map(drop)
    }

    /// Starts receiving every frame of the interface: done after rings and options are set, so
    /// no frame lands anywhere but where it is read.
    pub fn listen_all(&self) -> io::Result<()> {
        self.bind((libc::ETH_P_ALL as u16).to_be())
    }

    fn ioctl(&self, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: `req` is a valid ifreq for the SIOCGIF* requests used here.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), request as _, req as *mut libc::ifreq) };
        if r < 0 {
            // The bare OS error, so callers can tell ENODEV apart.
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn ifreq(&self) -> io::Result<libc::ifreq> {
        // SAFETY: ifreq is plain old data.
        let mut req: libc::ifreq = unsafe { zeroed() };
        req.ifr_ifru.ifru_ifindex = self.ifindex;
        // SAFETY: SIOCGIFNAME fills the name from the index set above.
        check(
            unsafe {
                libc::ioctl(
                    self.fd.as_raw_fd(),
                    libc::SIOCGIFNAME as _,
                    &mut req as *mut libc::ifreq,
                )
            },
            "querying an interface name",
        )?;
        Ok(req)
    }

    /// The interface's MTU.
    pub fn mtu(&self) -> io::Result<u32> {
        let mut req = self.ifreq()?;
        self.ioctl(libc::SIOCGIFMTU, &mut req)?;
        // SAFETY: SIOCGIFMTU filled the mtu member.
        Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
    }

    /// The interface's own MAC address.
    pub fn mac(&self) -> io::Result<MacAddr> {
        let mut req = self.ifreq()?;
        self.ioctl(libc::SIOCGIFHWADDR, &mut req)?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr member.
        let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
        let mut mac = [0u8; 6];
        for (dst, src) in mac.iter_mut().zip(data) {
            *dst = src as u8;
        }
        Ok(MacAddr(mac))
    }

    fn set_int(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: `value` is a c_int and its size is passed.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    level,
                    name,
                    (&value as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as u32,
                )
            },
            "setting a packet socket option",
        )
        .map(drop)
    }

    /// PACKET_QDISC_BYPASS: frames go straight to the driver, skipping the qdisc layer.
    pub fn set_qdisc_bypass(&self) -> io::Result<()> {
        self.set_int(libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1)
    }

    /// PACKET_IGNORE_OUTGOING: the kernel does not copy this host's own outgoing frames here.
    pub fn set_ignore_outgoing(&self) -> io::Result<()> {
        self.set_int(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)
    }

    /// PACKET_AUXDATA: each received frame carries its stripped VLAN tag in a control message.
    pub fn set_auxdata(&self) -> io::Result<()> {
        self.set_int(libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)
    }

    /// A send buffer of `bytes`, above the sysctl limit when root (SO_SNDBUFFORCE).
    pub fn set_send_buffer(&self, bytes: usize) -> io::Result<()> {
        let v = bytes.min(i32::MAX as usize) as libc::c_int;
        self.set_int(libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, v)
            .or_else(|_| self.set_int(libc::SOL_SOCKET, libc::SO_SNDBUF, v))
    }

    /// PACKET_MR_PROMISC membership: the interface is promiscuous while this socket lives.
    pub fn set_promiscuous(&self) -> io::Result<()> {
        // SAFETY: packet_mreq is plain old data.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        // SAFETY: `mreq` is a valid packet_mreq and its size is passed.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_ADD_MEMBERSHIP,
                    (&mreq as *const libc::packet_mreq).cast(),
                    size_of::<libc::packet_mreq>() as u32,
                )
            },
            "making the interface promiscuous",
        )
        .map(drop)
    }

    /// Keeps only the first `bytes` of each frame (a one-instruction BPF filter whose return
    /// value is the snap length); the frame's full length is still reported.
    pub fn set_snaplen(&self, bytes: u32) -> io::Result<()> {
        const BPF_RET_K: u16 = 0x06;
        let mut program = [libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: bytes.max(1),
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `prog` points at a valid one-instruction program that outlives the call (the
        // kernel copies it).
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ATTACH_FILTER,
                    (&prog as *const libc::sock_fprog).cast(),
                    size_of::<libc::sock_fprog>() as u32,
                )
            },
            "attaching the snap length filter",
        )
        .map(drop)
    }

    /// Joins fanout group `group` (hash mode, so one flow stays on one socket).
    pub fn join_fanout(&self, group: u16) -> io::Result<()> {
        let arg = libc::c_int::from(group) | (libc::PACKET_FANOUT_HASH as libc::c_int) << 16;
        self.set_int(libc::SOL_PACKET, libc::PACKET_FANOUT, arg)
    }

    /// PACKET_STATISTICS since the last call (the kernel resets them on read).
    pub fn take_statistics(&self) -> io::Result<RingStatistics> {
        // SAFETY: tpacket_stats_v3 is plain old data.
        let mut stats: libc::tpacket_stats_v3 = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `stats` has room for `len` bytes.
        check(
            unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_STATISTICS,
                    (&mut stats as *mut libc::tpacket_stats_v3).cast(),
                    &mut len,
                )
            },
            "reading PACKET_STATISTICS",
        )?;
        Ok(RingStatistics {
            packets: u64::from(stats.tp_packets),
            drops: u64::from(stats.tp_drops),
            freeze_q: if len as usize >= size_of::<libc::tpacket_stats_v3>() {
                u64::from(stats.tp_freeze_q_cnt)
            } else {
                0
            },
        })
    }

    /// Sends `frames` (at most `MAX_BATCH`) with one `sendmmsg`. Returns how many the kernel
    /// took; it stops at the first it refused.
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        let n = frames.len().min(MAX_BATCH);
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
        for i in 0..n {
            iov[i].iov_base = frames[i].as_ptr() as *mut libc::c_void;
            iov[i].iov_len = frames[i].len();
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every msg points at one iovec over a live slice; the socket is bound, so no
        // address is needed; the kernel only reads the frames.
        let sent = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
        sent_count(sent)
    }

    /// Sends `frames` (at most `MAX_BATCH`) with one `sendmmsg`, each frame gathered from two
    /// parts (a rewritten header and the rest, left where it was received). Returns how many
    /// the kernel took; it stops at the first it refused.
    pub fn send_gather(&self, frames: &[[&[u8]; 2]]) -> io::Result<usize> {
        let n = frames.len().min(MAX_BATCH);
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [[libc::iovec; 2]; MAX_BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
        for i in 0..n {
            for (v, part) in iov[i].iter_mut().zip(frames[i]) {
                v.iov_base = part.as_ptr() as *mut libc::c_void;
                v.iov_len = part.len();
            }
            msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
            msgs[i].msg_hdr.msg_iovlen = 2;
        }
        // SAFETY: every msg points at two iovecs over live slices; the socket is bound, so no
        // address is needed; the kernel only reads the frames.
        let sent = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
        sent_count(sent)
    }

    /// A receive buffer of `bytes`, above the sysctl limit when root (SO_RCVBUFFORCE).
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        let v = bytes.min(i32::MAX as usize) as libc::c_int;
        self.set_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
            .or_else(|_| self.set_int(libc::SOL_SOCKET, libc::SO_RCVBUF, v))
    }

    /// Receives up to `meta.len()` frames into `buf` slots of `slot` bytes, each starting at
    /// `headroom` within its slot. With `block`, waits for the first (at most the receive
    /// timeout); without, takes only what is there. Returns how many.
    pub fn recv_batch(
        &self,
        buf: &mut [u8],
        slot: usize,
        headroom: usize,
        meta: &mut [RecvMeta],
        block: bool,
    ) -> io::Result<usize> {
        let n = meta.len().min(MAX_BATCH).min(buf.len() / slot);
        if n == 0 || headroom >= slot {
            return Ok(0);
        }
        let flags = if block {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        const CMSG_SPACE: usize = 64;
        // SAFETY: plain old data arrays; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
        let mut addrs: [libc::sockaddr_ll; MAX_BATCH] = unsafe { zeroed() };
        let mut control = [[0u64; CMSG_SPACE / 8]; MAX_BATCH];
        let base = buf.as_mut_ptr();
        for i in 0..n {
            // SAFETY: i * slot + headroom < n * slot <= buf.len().
            iov[i].iov_base = unsafe { base.add(i * slot + headroom) }.cast();
            iov[i].iov_len = slot - headroom;
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_ll).cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            msgs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
            msgs[i].msg_hdr.msg_controllen = CMSG_SPACE;
        }
        // SAFETY: every pointer above refers to a live buffer of the stated size.
        let got = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as u32,
                flags,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                return Ok(0);
            }
            return Err(last_error("recvmmsg"));
        }
        let got = got as usize;
        for i in 0..got {
            let hdr = &msgs[i].msg_hdr;
            let mut m = RecvMeta {
                len: (msgs[i].msg_len as usize).min(slot - headroom),
                pkttype: addrs[i].sll_pkttype,
                vlan: None,
                truncated: hdr.msg_flags & libc::MSG_TRUNC != 0,
            };
            // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
            // msg_controllen; the auxdata payload is read unaligned.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(hdr);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET
                        && (*c).cmsg_type == libc::PACKET_AUXDATA
                        && (*c).cmsg_len as usize
                            >= libc::CMSG_LEN(size_of::<libc::tpacket_auxdata>() as u32) as usize
                    {
                        let aux: libc::tpacket_auxdata =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        m.vlan = vlan_of(aux.tp_status, aux.tp_vlan_tpid, aux.tp_vlan_tci);
                    }
                    c = libc::CMSG_NXTHDR(hdr, c);
                }
            }
            meta[i] = m;
        }
        Ok(got)
    }

    /// SO_RCVTIMEO: how long a blocking receive waits.
    pub fn set_receive_timeout(&self, timeout: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
        };
        // SAFETY: `tv` is a valid timeval and its size is passed.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    size_of::<libc::timeval>() as u32,
                )
            },
            "setting the receive timeout",
        )
        .map(drop)
    }
}

fn poll_in(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLERR,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(last_error("poll"));
    }
    Ok(r > 0)
}

/// Waits up to `timeout` until one of `sockets` has a frame to read; sets `ready[i]` for each
/// that has. Returns how many are ready (0 when the wait ended first or a signal came).
pub fn poll_readable(
    sockets: &[PacketSocket],
    timeout: Duration,
    ready: &mut [bool],
) -> io::Result<usize> {
    const MAX_POLLED: usize = 1024;
    let n = sockets.len().min(ready.len()).min(MAX_POLLED);
    // SAFETY: pollfd is plain old data; all-zero is valid.
    let mut fds: [libc::pollfd; MAX_POLLED] = unsafe { zeroed() };
    for (fd, s) in fds.iter_mut().zip(&sockets[..n]) {
        fd.fd = s.fd.as_raw_fd();
        fd.events = libc::POLLIN;
    }
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds[..n]` are valid pollfds over open descriptors.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(last_error("poll"));
    }
    for (flag, fd) in ready.iter_mut().zip(&fds[..n]) {
        *flag = fd.revents & (libc::POLLIN | libc::POLLERR) != 0;
    }
    Ok(r as usize)
}

/// A VLAN tag from packet metadata: `(tpid, tci)`, when the kernel says one was stripped.
fn vlan_of(status: u32, tpid: u16, tci: u16) -> Option<(u16, u16)> {
    if status & libc::TP_STATUS_VLAN_VALID == 0 {
        return None;
    }
    let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
        tpid
    } else {
        crate::engine::wire::TPID_8021Q
    };
    Some((tpid, tci))
}

/// One frame from `recv_batch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvMeta {
    pub len: usize,
    pub pkttype: u8,
    /// `(tpid, tci)` of a tag the kernel moved out of the frame.
    pub vlan: Option<(u16, u16)>,
    /// The frame was longer than its slot.
    pub truncated: bool,
}

/// PACKET_STATISTICS counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStatistics {
    /// Frames the socket's filter accepted (delivered plus dropped).
    pub packets: u64,
    /// Frames dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen because it was full.
    pub freeze_q: u64,
}

/// Geometry of a TPACKET_V3 receive ring.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    pub block_size: usize,
    pub block_count: usize,
    /// How long the kernel keeps a partly filled block before handing it over.
    pub block_timeout: Duration,
}

/// A TPACKET_V3 receive ring over a packet socket.
#[derive(Debug)]
pub struct RxRing {
    socket: PacketSocket,
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
}

// SAFETY: the mapping is owned by this value alone; nothing else aliases it.
unsafe impl Send for RxRing {}

impl RxRing {
    /// Switches `socket` to TPACKET_V3 and maps its ring. `Unsupported` when the kernel refuses
    /// the version or the ring, `OutOfMemory` when it cannot allocate a ring that large.
    pub fn new(socket: PacketSocket, config: RingConfig) -> io::Result<RxRing> {
        let unsupported = |what: &str| {
            let e = io::Error::last_os_error();
            io::Error::new(io::ErrorKind::Unsupported, format!("{what}: {e}"))
        };
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        socket
            .set_int(libc::SOL_PACKET, libc::PACKET_VERSION, version)
            .map_err(|_| unsupported("TPACKET_V3"))?;
        let frame_size = 2048usize;
        let req = libc::tpacket_req3 {
            tp_block_size: config.block_size as u32,
            tp_block_nr: config.block_count as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (config.block_size / frame_size * config.block_count) as u32,
            tp_retire_blk_tov: config.block_timeout.as_millis().clamp(1, 1000) as u32,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        // SAFETY: `req` is a valid tpacket_req3 and its size is passed.
        let r = unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                (&req as *const libc::tpacket_req3).cast(),
                size_of::<libc::tpacket_req3>() as u32,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOMEM) {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, e));
            }
            return Err(unsupported("PACKET_RX_RING (TPACKET_V3)"));
        }
        let map_len = config.block_size * config.block_count;
        // SAFETY: maps the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED | libc::MAP_POPULATE,
                socket.fd.as_raw_fd(),
                0,
            )
        };
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED may exceed RLIMIT_MEMLOCK; an unlocked mapping still works.
            // SAFETY: as above.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    socket.fd.as_raw_fd(),
                    0,
                )
            }
        } else {
            map
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("mapping the receive ring"));
        }
        Ok(RxRing {
            socket,
            map: NonNull::new(map.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?,
            map_len,
            block_size: config.block_size,
            block_count: config.block_count,
            next_block: 0,
        })
    }

    pub fn socket(&self) -> &PacketSocket {
        &self.socket
    }

    fn block_ptr(&self, index: usize) -> *mut libc::tpacket_block_desc {
        // SAFETY: index < block_count, so the offset stays inside the mapping.
        unsafe { self.map.as_ptr().add(index * self.block_size) }.cast()
    }

    fn block_status(&self, index: usize) -> u32 {
        let desc = self.block_ptr(index);
        // SAFETY: the descriptor lies at the start of a mapped block; the kernel writes the
        // status last, so it is read volatile and followed by an acquire fence.
        let status = unsafe { std::ptr::addr_of!((*desc).hdr.bh1.block_status).read_volatile() };
        fence(Ordering::Acquire);
        status
    }

    /// True when nothing waits to be read: the next block is still the kernel's and it has
    /// counted no frame into it yet, so waiting for its timeout would hand over nothing.
    pub fn nothing_pending(&self) -> bool {
        let index = self.next_block;
        if self.block_status(index) & libc::TP_STATUS_USER != 0 {
            return false;
        }
        let desc = self.block_ptr(index);
        // SAFETY: the descriptor lies at the start of a mapped block; the kernel counts each
        // frame into the block it fills as it goes, so a volatile read is a snapshot of that.
        unsafe { std::ptr::addr_of!((*desc).hdr.bh1.num_pkts).read_volatile() == 0 }
    }

    /// Waits up to `timeout` for the next block the kernel has handed over and calls `each` on
    /// every frame in it, then gives the block back. Returns how many frames it held (0 when
    /// the wait ended first).
    pub fn next_block(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(RingFrame<'_>),
    ) -> io::Result<usize> {
        let index = self.next_block;
        if self.block_status(index) & libc::TP_STATUS_USER == 0 {
            poll_in(self.socket.fd.as_raw_fd(), timeout)?;
            if self.block_status(index) & libc::TP_STATUS_USER == 0 {
                return Ok(0);
            }
        }
        let desc = self.block_ptr(index);
        // SAFETY: the block is ours until its status is set back to TP_STATUS_KERNEL.
        let block = unsafe {
            std::slice::from_raw_parts(
                self.map.as_ptr().add(index * self.block_size),
                self.block_size,
            )
        };
        // SAFETY: header fields of a block we own.
        let (num, first) = unsafe {
            let h = std::ptr::addr_of!((*desc).hdr.bh1).read();
            (h.num_pkts as usize, h.offset_to_first_pkt as usize)
        };
        let mut offset = first;
        let mut seen = 0;
        let hdr_len = size_of::<libc::tpacket3_hdr>();
        let sll_at = (hdr_len + 15) & !15;
        while seen < num {
            let Some(raw) = block.get(offset..offset + sll_at + size_of::<libc::sockaddr_ll>())
            else {
                break;
            };
            // SAFETY: `raw` holds a whole tpacket3_hdr and the sockaddr_ll after it.
            let (h, sll): (libc::tpacket3_hdr, libc::sockaddr_ll) = unsafe {
                (
                    std::ptr::read_unaligned(raw.as_ptr().cast()),
                    std::ptr::read_unaligned(raw.as_ptr().add(sll_at).cast()),
                )
            };
            let mac = offset + usize::from(h.tp_mac);
            let Some(data) = block.get(mac..mac + h.tp_snaplen as usize) else {
                break;
            };
            each(RingFrame {
                data,
                wire_len: h.tp_len as usize,
                timestamp_ns: u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec),
                pkttype: sll.sll_pkttype,
                vlan: vlan_of(h.tp_status, h.hv1.tp_vlan_tpid, h.hv1.tp_vlan_tci as u16),
            });
            seen += 1;
            if h.tp_next_offset == 0 {
                break;
            }
            offset += h.tp_next_offset as usize;
        }
        fence(Ordering::Release);
        // SAFETY: hands the block back to the kernel; we no longer read it.
        unsafe {
            std::ptr::addr_of_mut!((*desc).hdr.bh1.block_status)
                .write_volatile(libc::TP_STATUS_KERNEL)
        };
        self.next_block = (index + 1) % self.block_count;
        Ok(seen)
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// One frame in a ring block.
#[derive(Debug, Clone, Copy)]
pub struct RingFrame<'a> {
    /// The bytes captured (the whole frame, less a tag the kernel stripped).
    pub data: &'a [u8],
    /// The frame's length on the wire, less a stripped tag.
    pub wire_len: usize,
    /// Kernel receive time, CLOCK_REALTIME ns.
    pub timestamp_ns: u64,
    pub pkttype: u8,
    /// `(tpid, tci)` of a tag the kernel moved out of the frame.
    pub vlan: Option<(u16, u16)>,
}

/// Where frame data starts in a TPACKET_V2 transmit slot (no PACKET_TX_HAS_OFF).
const TX_DATA_OFFSET: usize = (size_of::<libc::tpacket2_hdr>() + 15) & !15;

/// A TPACKET_V2 transmit ring: frames are written into slots shared with the kernel and sent,
/// however many, with one `send` (the kernel maps the slot pages into the skb, no copy).
#[derive(Debug)]
pub struct TxRing {
    socket: PacketSocket,
    map: NonNull<u8>,
    map_len: usize,
    frame_size: usize,
    frame_count: usize,
    next: usize,
}

// SAFETY: the mapping is owned by this value alone; nothing else aliases it.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Switches `socket` to TPACKET_V2 and maps a transmit ring of at least `frames` slots of
    /// at least `max_frame` bytes. `Unsupported` when the kernel refuses.
    pub fn new(socket: PacketSocket, max_frame: usize, frames: usize) -> io::Result<TxRing> {
        let unsupported = |what: &str| {
            let e = io::Error::last_os_error();
            io::Error::new(io::ErrorKind::Unsupported, format!("{what}: {e}"))
        };
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        socket
            .set_int(libc::SOL_PACKET, libc::PACKET_VERSION, version)
            .map_err(|_| unsupported("TPACKET_V2"))?;
        let frame_size = (TX_DATA_OFFSET + max_frame).next_power_of_two().max(2048);
        let block_size = frame_size.max(1 << 16);
        let per_block = block_size / frame_size;
        let blocks = frames.div_ceil(per_block).max(1);
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (blocks * per_block) as u32,
        };
        // SAFETY: `req` is a valid tpacket_req and its size is passed.
        let r = unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                (&req as *const libc::tpacket_req).cast(),
                size_of::<libc::tpacket_req>() as u32,
            )
        };
        if r < 0 {
            return Err(unsupported("PACKET_TX_RING (TPACKET_V2)"));
        }
        let map_len = block_size * blocks;
        // SAFETY: maps the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                socket.fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("mapping the transmit ring"));
        }
        Ok(TxRing {
            socket,
            map: NonNull::new(map.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?,
            map_len,
            frame_size,
            frame_count: blocks * per_block,
            next: 0,
        })
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.frame_count
    }

    fn header(&self, index: usize) -> *mut libc::tpacket2_hdr {
        // SAFETY: index < frame_count, so the slot lies inside the mapping.
        unsafe { self.map.as_ptr().add(index * self.frame_size) }.cast()
    }

    /// The data area of the next slot, when the kernel is done with it.
    pub fn next_slot(&mut self) -> Option<&mut [u8]> {
        let h = self.header(self.next);
        // SAFETY: the status word is shared with the kernel: read volatile, then acquire.
        let status = unsafe { std::ptr::addr_of!((*h).tp_status).read_volatile() };
        fence(Ordering::Acquire);
        if status & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) != 0 {
            return None;
        }
        // SAFETY: the slot is ours (not requested for sending); its data area follows the
        // header and ends with the slot.
        Some(unsafe {
            std::slice::from_raw_parts_mut(
                h.cast::<u8>().add(TX_DATA_OFFSET),
                self.frame_size - TX_DATA_OFFSET,
            )
        })
    }

    /// Hands the frame of `len` bytes written into the slot `next_slot` gave to the kernel.
    pub fn commit(&mut self, len: usize) {
        let h = self.header(self.next);
        // SAFETY: the slot is ours until the status says SEND_REQUEST; the length is written
        // first and published by the release fence before the status.
        unsafe {
            std::ptr::addr_of_mut!((*h).tp_len).write_volatile(len as u32);
            fence(Ordering::Release);
            std::ptr::addr_of_mut!((*h).tp_status).write_volatile(libc::TP_STATUS_SEND_REQUEST);
        }
        self.next = (self.next + 1) % self.frame_count;
    }

    /// Index of the slot `next_slot` gives.
    pub fn next_index(&self) -> usize {
        self.next
    }

    /// Sends every committed frame; with `wait`, returns only once the kernel has taken them all.
    pub fn flush(&self, wait: bool) -> io::Result<()> {
        let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
        // SAFETY: a zero-length send on a bound packet socket with a TX ring sends the ring.
        let r = unsafe { libc::send(self.socket.fd.as_raw_fd(), std::ptr::null(), 0, flags) };
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
            Err(last_error("sending the transmit ring"))
        } else {
            Ok(())
        }
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// Bytes of physical memory this machine has (none when the kernel does not say).
pub fn physical_memory() -> Option<u64> {
    use nix::unistd::{SysconfVar, sysconf};
    let pages = sysconf(SysconfVar::_PHYS_PAGES).ok()??;
    let page = sysconf(SysconfVar::PAGE_SIZE).ok()??;
    u64::try_from(pages)
        .ok()?
        .checked_mul(u64::try_from(page).ok()?)
}

/// True when the calling process has root's effective user id.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Now on CLOCK_REALTIME, in ns since the epoch.
pub fn realtime_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|t| (t.tv_sec() as u64, t.tv_nsec() as u64))
        .unwrap_or((0, 0));
    ts.0 * 1_000_000_000 + ts.1
}
