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
      from: { path: '^src/hyp' }, to: { path: '^src/(rm-rpc|mem-parcel|vm-mgr|vcpu|functions|guest|cli|emulator)' } },
    { name: 'wire-codecs-are-pure', severity: 'error',
      from: { path: '^src/rm-rpc/wire' }, to: { path: '^src/(?!shared|rm-rpc/wire|fdt)' } },
    { name: 'rm-client-not-into-rm-server', severity: 'error',
      from: { path: '^src/rm-rpc/client' }, to: { path: '^src/(rm-rpc/server|mem-parcel|hyp)' } },
    { name: 'rm-server-not-into-host', severity: 'error',
      from: { path: '^src/rm-rpc/server' }, to: { path: '^src/(rm-rpc/client|vm-mgr|vcpu|functions|cli)' } },
    { name: 'vm-mgr-not-into-rm-internals', severity: 'error',
      from: { path: '^src/vm-mgr' }, to: { path: '^src/(mem-parcel|rm-rpc/server|hyp)' } },
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
