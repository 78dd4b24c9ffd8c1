/**
 * The typed instruction model: what the parser (parse.ts) produces from a
 * Dockerfile and the converter lowers to IR. Words are kept *unexpanded*:
 * variables are substituted at lowering time, when the stage's ARG and ENV
 * values are known, exactly as Docker does. Flags are checked for spelling and
 * shape here; values that may hold variables stay strings.
 */

/** 1-based, inclusive line range of an instruction in its file. */
export interface SourceRange {
  readonly startLine: number;
  readonly endLine: number;
}

export interface ParsedDockerfile {
  readonly file: string;
  /** The file's lines, for code frames in errors. */
  readonly lines: readonly string[];
  readonly directives: Directives;
  /** ARG instructions before the first FROM. */
  readonly globalArgs: readonly ArgInstruction[];
  readonly stages: readonly ParsedStage[];
}

export interface Directives {
  readonly syntax?: string;
  readonly escape: '\\' | '`';
  /** `# check=skip=…;error=true` as written. */
  readonly check?: string;
}

export interface ParsedStage {
  readonly from: FromInstruction;
  readonly instructions: readonly Instruction[];
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | LabelInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | EnvInstruction
  | AddInstruction
  | CopyInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | ArgInstruction
  | OnbuildInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | ShellInstruction;

export type InstructionKind = Instruction['kind'];

interface InstructionBase {
  readonly range: SourceRange;
  /** The instruction as written, continuations joined: used in history and step names. */
  readonly original: string;
}

/** Exec form (`["a","b"]`, no shell) or shell form (one string given to SHELL). */
export type CommandLine =
  | { readonly form: 'exec'; readonly args: readonly string[] }
  | { readonly form: 'shell'; readonly script: string };

export interface Heredoc {
  readonly name: string;
  /**
   * The body as BuildKit reads it: every line with its newline (CRLF kept), the
   * delimiter line excluded; for `<<-` the leading tabs are already stripped.
   */
  readonly content: string;
  /** False when the delimiter was quoted (`<<"EOF"`): no variable expansion. */
  readonly expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from every line. */
  readonly chomp: boolean;
}

/** A key=value pair (ENV, LABEL, ARG); the value is unexpanded. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface FromInstruction extends InstructionBase {
  readonly kind: 'FROM';
  readonly image: string;
  readonly alias?: string;
  readonly platform?: string;
}

export interface RunInstruction extends InstructionBase {
  readonly kind: 'RUN';
  readonly command: CommandLine;
  readonly heredocs: readonly Heredoc[];
  readonly mounts: readonly RunMountFlag[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
}

/**
 * One `--mount=` flag, split into its options; values unexpanded. Option names
 * are checked against the mount type by the parser (unknown options are errors,
 * aliases normalised: `dst`/`destination` → target, `src` → source, `ro`/`readonly`,
 * `rw`/`readwrite`). Boolean options without a value are stored as "true".
 */
export interface RunMountFlag {
  readonly type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  readonly options: Readonly<Record<string, string>>;
}

export interface CmdInstruction extends InstructionBase {
  readonly kind: 'CMD';
  readonly command: CommandLine;
}

export interface EntrypointInstruction extends InstructionBase {
  readonly kind: 'ENTRYPOINT';
  readonly command: CommandLine;
}

export interface LabelInstruction extends InstructionBase {
  readonly kind: 'LABEL';
  readonly labels: readonly KeyValue[];
}

export interface MaintainerInstruction extends InstructionBase {
  readonly kind: 'MAINTAINER';
  readonly name: string;
}

export interface ExposeInstruction extends InstructionBase {
  readonly kind: 'EXPOSE';
  /** Unexpanded words; each expands to one or more `port[/proto]` or ranges. */
  readonly ports: readonly string[];
}

export interface EnvInstruction extends InstructionBase {
  readonly kind: 'ENV';
  readonly variables: readonly KeyValue[];
}

/** Flags shared by COPY and ADD. */
export interface CopyFlags {
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly exclude: readonly string[];
}

export interface AddInstruction extends InstructionBase, CopyFlags {
  readonly kind: 'ADD';
  readonly sources: readonly string[];
  readonly dest: string;
  readonly heredocs: readonly Heredoc[];
  readonly checksum?: string;
  readonly keepGitDir: boolean;
  /** `--unpack` / `--unpack=false`; absent means Docker's default (local archives only). */
  readonly unpack?: boolean;
}

export interface CopyInstruction extends InstructionBase, CopyFlags {
  readonly kind: 'COPY';
  readonly sources: readonly string[];
  readonly dest: string;
  readonly heredocs: readonly Heredoc[];
  readonly from?: string;
  readonly parents: boolean;
}

export interface VolumeInstruction extends InstructionBase {
  readonly kind: 'VOLUME';
  /** JSON form entries, or unexpanded shell-form words. */
  readonly paths: readonly string[];
}

export interface UserInstruction extends InstructionBase {
  readonly kind: 'USER';
  readonly user: string;
}

export interface WorkdirInstruction extends InstructionBase {
  readonly kind: 'WORKDIR';
  readonly path: string;
}

export interface ArgInstruction extends InstructionBase {
  readonly kind: 'ARG';
  /** `ARG A B=2`: several declarations; value absent when none was given. */
  readonly args: readonly { readonly key: string; readonly value?: string }[];
}

export interface OnbuildInstruction extends InstructionBase {
  readonly kind: 'ONBUILD';
  /** The trigger as written after ONBUILD, stored in the image config. */
  readonly expression: string;
  readonly trigger: Instruction;
}

export interface StopsignalInstruction extends InstructionBase {
  readonly kind: 'STOPSIGNAL';
  readonly signal: string;
}

export interface HealthcheckInstruction extends InstructionBase {
  readonly kind: 'HEALTHCHECK';
  /** Absent for `HEALTHCHECK NONE`. */
  readonly command?: CommandLine;
  readonly interval?: string;
  readonly timeout?: string;
  readonly startPeriod?: string;
  readonly startInterval?: string;
  readonly retries?: string;
}

export interface ShellInstruction extends InstructionBase {
  readonly kind: 'SHELL';
  readonly shell: readonly string[];
}
