// Layering rules of DESIGN.md: imports point down the picture only.
// Checked by `npm test` (depcruise step) so CI fails on an upward import.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'shared-is-the-bottom', severity: 'error',
      from: { path: '^src/shared' }, to: { path: '^src/(?!shared)' } },
    { name: 'fdt-is-a-bottom-layer', severity: 'error',
      from: { path: '^src/fdt' }, to: { path: '^src/(?!fdt|shared)' } },
    { name: 'mem-parcel-below-the-rm', severity: 'error',
      from: { path: '^src/mem-parcel' }, to: { path: '^src/(rm-rpc/(server|client)|vm-mgr|vcpu|functions|guest|cli|conformance|msgq)' } },
    { name: 'msgq-knows-nothing-above', severity: 'error',
      from: { path: '^src/msgq' }, to: { path: '^src/(?!msgq|shared)' } },
    { name: 'hyp-below-rm-and-host', severity: 'error',
      from: { path: '^src/hyp' }, to: { path: '^src/(rm-rpc|mem-parcel|vm-mgr|vcpu|functions|host|cli|emulator)' } },
    { name: 'virtio-knows-only-shared', severity: 'error',
      from: { path: '^src/virtio' }, to: { path: '^src/(?!virtio|shared)' } },
    { name: 'scmi-knows-only-shared', severity: 'error',
      from: { path: '^src/scmi' }, to: { path: '^src/(?!scmi|shared)' } },
    // VM functions see the VM through vm-api.ts and the uapi; the SCMI function adds the SCMI
    // backend and the virtqueue, never the VM manager's internals or the machine above it.
    { name: 'functions-use-the-vm-api', severity: 'error',
      from: { path: '^src/functions' },
      to: { path: '^src/(?!functions/|shared/|scmi/|virtio/|host/|vm-mgr/vm-api\\.ts$|vm-mgr/uapi/|rm-rpc/wire/)' } },
    { name: 'guest-is-the-bottom-of-the-machine', severity: 'error',
      from: { path: '^src/guest' }, to: { path: '^src/(?!guest|shared)' } },
    { name: 'host-process-knows-only-kernel-files', severity: 'error',
      from: { path: '^src/host' }, to: { path: '^src/(?!host|shared)' } },
    { name: 'wire-codecs-are-pure', severity: 'error',
      from: { path: '^src/rm-rpc/wire' }, to: { path: '^src/(?!shared|rm-rpc/wire|fdt)' } },
    { name: 'rm-client-not-into-rm-server', severity: 'error',
      from: { path: '^src/rm-rpc/client' }, to: { path: '^src/(rm-rpc/server|mem-parcel|hyp)' } },
    { name: 'rm-server-not-into-host', severity: 'error',
      from: { path: '^src/rm-rpc/server' }, to: { path: '^src/(rm-rpc/client|vm-mgr|vcpu|functions|cli)' } },
    { name: 'vm-mgr-not-into-rm-internals', severity: 'error',
      from: { path: '^src/(vm-mgr|vcpu|functions)' }, to: { path: '^src/(mem-parcel|rm-rpc/server|guest|cli)' } },
    { name: 'host-kernel-uses-only-the-hypercall-interface', severity: 'error',
      from: { path: '^src/(vm-mgr|vcpu|functions)' }, to: { path: '^src/hyp/(?!host-api\\.ts$)' } },
    // The VMM kit is userspace: the uapi, the DT writer, and userspace libraries (the virtio-mmio
    // register model of src/virtio); never the kernel, hypervisor, RM or guest models.
    { name: 'vmm-kit-speaks-only-the-uapi', severity: 'error',
      from: { path: '^src/vmm/' }, to: { path: '^src/', pathNot: '^src/(vmm|vm-mgr/uapi|virtio|fdt|shared)/' } },
    // The host bridge daemon serves the HostProcess contract of one emulator: it sees the host
    // process model, the uapi and the emulator; of the kernel only the two page-backed files the
    // host maps, the guest-memory file (v17) and the shmem file behind an anonymous mapping (gh_
    // user memory, MMAP_ANON), to sync their pages with the shared backing files without faulting
    // them in or taking a SIGBUS per lent page (docs/host-bridge-protocol.md "Guest memory").
    { name: 'bridge-serves-the-host-contract', severity: 'error',
      from: { path: '^src/bridge/' },
      to: { path: '^src/', pathNot: '^src/(bridge|host|shared|vm-mgr/uapi)/|^src/emulator\\.ts$|^src/vm-mgr/(guest-mem|anon-memory)\\.ts$' } },
    { name: 'library-never-imports-cli', severity: 'error',
      from: { path: '^src/(?!cli)' }, to: { path: '^src/cli' } },
    { name: 'production-never-imports-testing', severity: 'error',
      from: { path: '^src/(?!testing|cli|conformance)', pathNot: '/testing/' }, to: { path: '(^src/testing\\.ts$|/testing/)' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
