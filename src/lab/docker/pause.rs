//! The image every container of a `--engine docker` lab runs: one file, `/pause`, a 129-byte
//! static x86-64 program that calls pause(2) forever, written here byte by byte, so no registry,
//! no base image and no toolchain is needed (`docker import` of a one-file tar). A container
//! only has to hold its network namespace; mvlab measures from outside. It builds bytes only:
//! importing them is `client`'s.

/// The image's name, versioned by its content.
pub const IMAGE: &str = "mvlab/pause:1";
/// Its only command.
pub const COMMAND: &str = "/pause";

/// Load address of the one segment.
const BASE: u64 = 0x40_0000;
/// ELF header (64 bytes) + one program header (56): the code starts at 0x78.
const CODE_AT: u64 = 0x78;
/// `mov eax, 34 (pause)`; `syscall`; `jmp` back 9 bytes to the `mov`.
const CODE: [u8; 9] = [0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7];

/// The program: an ELF64 executable for x86-64 with one loadable, readable and executable
/// segment holding the whole file.
pub fn program() -> Vec<u8> {
    let size = CODE_AT + CODE.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // e_machine: EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(BASE + CODE_AT).to_le_bytes()); // e_entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R + X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&size.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&size.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    debug_assert_eq!(elf.len() as u64, CODE_AT);
    elf.extend_from_slice(&CODE);
    elf
}

/// The root filesystem `docker import` takes: a tar holding `/pause`, mode 0755.
pub fn rootfs() -> Vec<u8> {
    let program = program();
    let mut header = tar::Header::new_gnu();
    header.set_size(program.len() as u64);
    header.set_mode(0o755);
    header.set_mtime(0);
    header.set_cksum();
    let mut archive = tar::Builder::new(Vec::new());
    archive
        .append_data(&mut header, "pause", program.as_slice())
        .and_then(|()| archive.into_inner())
        .expect("writing a tar into memory cannot fail")
}

/// Whether this machine runs the program (mvlab writes it for x86-64 only).
pub fn runs_here() -> bool {
    cfg!(target_arch = "x86_64")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn the_program_runs_and_waits_until_killed() {
        assert!(runs_here(), "mvlab's Docker engine needs x86-64");
        let dir = std::env::temp_dir().join(format!("mvtest-pause-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pause");
        std::fs::write(&path, program()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        // It does not end on its own: killing it is what ends it.
        assert!(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        let status = child.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn the_rootfs_is_a_tar_that_gnu_tar_lists() {
        use std::io::Write;
        let mut tar = std::process::Command::new("tar")
            .args(["-tvf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tar.stdin.take().unwrap().write_all(&rootfs()).unwrap();
        let out = tar.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = listing.split_whitespace().collect();
        assert_eq!(fields[0], "-rwxr-xr-x", "{listing}");
        assert_eq!(fields[2], "129", "{listing}");
        assert_eq!(fields.last(), Some(&"pause"), "{listing}");
    }
}
