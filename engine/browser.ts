// The engine's browser entry: its public surface (index.ts) and the page's settings.
export * from './index.ts';
export { configurePlatform } from './platform/browser.ts';
