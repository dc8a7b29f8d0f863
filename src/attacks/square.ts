// Placeholder: filled in by the attack-suite work.
export {};
