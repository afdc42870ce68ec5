/** Types of common/env-file.js (plain JavaScript so the shell scripts can run it before `npm ci`). */
export declare function parseDotenv(text: string): Record<string, string>;
export declare function readDotenv(file: string): Record<string, string>;
export declare function defaultEnvFile(env?: NodeJS.ProcessEnv): string;
export declare function dotenvAdditions(env?: NodeJS.ProcessEnv, file?: string): Record<string, string>;
export declare function applyDotenv(): void;
