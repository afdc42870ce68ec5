import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // web/ is its own package inside the repository: do not let the repository's lockfile make its root the workspace root.
  turbopack: { root: __dirname },
  outputFileTracingRoot: __dirname,
  reactStrictMode: true,
  poweredByHeader: false,
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          // The address being verified travels in the query string: never hand it to another origin.
          { key: 'Referrer-Policy', value: 'same-origin' },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'X-Frame-Options', value: 'DENY' },
          // The full, nonce-based policy comes from proxy.ts for every page; this one covers what
          // the proxy does not see (static files).
          { key: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
        ],
      },
    ];
  },
};

export default nextConfig;
