/**
 * The ordered map behind the memdb and the address spaces: the `sorted-btree` package's B+ tree,
 * resolved once for both module systems.
 *
 * `sorted-btree` is CommonJS with `exports.default = BTree`. Under Node's ESM loader (and tsx) a
 * default import yields the whole `module.exports`, while bundler-style interop (vitest) may
 * yield the class itself, so `import BTree from 'sorted-btree'` is not constructible everywhere.
 * This file picks whichever of the two is the constructor. It holds no state.
 */
import sortedBtree from 'sorted-btree';

type BTreeCtor = typeof sortedBtree.default;
const mod = sortedBtree as unknown as BTreeCtor | { readonly default: BTreeCtor };

/** The B+ tree class (keys compared with the package's default comparator). */
export const BTree: BTreeCtor = typeof mod === 'function' ? mod : mod.default;
/** A B+ tree from `K` to `V`. */
export type BTree<K, V> = sortedBtree.default<K, V>;
