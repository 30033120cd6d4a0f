//! Batch jobs: one engine that imports and exports every kind of record under the engine's rules (being built).
