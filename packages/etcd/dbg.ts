import { connect } from '@lockstep/core';
import './src/index.ts';

const c = await connect('etcd://127.0.0.1:23999', { prefix: 'dbg' });
try {
  const h = await c.lock('x').acquire();
  console.log('got', h.fencingToken);
  await h.release();
} catch (e) {
  console.log(e.message, e.cause?.message);
}
await c.close();
