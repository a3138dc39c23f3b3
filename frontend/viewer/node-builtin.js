// Stands in for Node's built-in modules that the codecs' Emscripten glue and one XML library
// reach for only when they run under Node: never in the browser.
export default {};
