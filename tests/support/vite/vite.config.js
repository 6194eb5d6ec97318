// netdash's risk-check tests: NETDASH_VITE_ANY_HOST=1 turns Vite's host check off
// (server.allowedHosts: true), the setting its DNS-rebinding advisory warns about.
import { defineConfig } from "vite";

export default defineConfig({
  logLevel: "info",
  clearScreen: false,
  server: {
    allowedHosts: process.env.NETDASH_VITE_ANY_HOST === "1" ? true : [],
  },
});
