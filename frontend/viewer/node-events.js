// Stands in for Node's "events": vtk.js's XML writer (never used by the viewer) extends
// EventEmitter at load time, so the class must exist.
export class EventEmitter {
  on() { return this; }
  once() { return this; }
  off() { return this; }
  removeListener() { return this; }
  emit() { return false; }
}
export default { EventEmitter };
