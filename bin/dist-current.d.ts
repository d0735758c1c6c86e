/** Whether dist/ is current (bin/dist-current.js). */
export declare function distIsCurrent(root: string): boolean;
