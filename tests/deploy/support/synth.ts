import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Source } from "aws-cdk-lib/aws-s3-deployment";
import { FlywheelStack } from "../../../infra/stack.ts";

/** A CloudFormation template as `cdk synth` writes it. */
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  [key: string]: unknown;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A Node.js Lambda function of the template and the bundle the cloud assembly holds for it. */
export interface SynthesizedFunction {
  readonly logicalId: string;
  /** `Handler`: `<file without extension>.<export>`, resolved in the bundle's folder as Lambda does. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** `Environment.Variables`, unresolved (references to other resources left as they are). */
  readonly environment: Record<string, unknown>;
  /** The logical id of its execution role. */
  readonly roleId: string;
  /** The asset folder the function's code is zipped from. */
  readonly bundleDir: string;
  /** The handler file the bundle was built from (`functions/api.ts`), as its source map names it. */
  readonly entry: string;
}

export interface SynthesizedStack {
  readonly directory: string;
  readonly templateFile: string;
  readonly template: CfnTemplate;
  readonly functions: SynthesizedFunction[];
  /** Removes the cloud assembly. */
  remove(): void;
}

/**
 * Synthesizes the stack as `cdk synth` does, bundling every function with esbuild into a cloud
 * assembly in a temporary folder. The web UI's files are a stand-in: its build is not a function.
 */
export function synthesizeStack(context: Record<string, unknown> = {}): SynthesizedStack {
  const directory = mkdtempSync(join(tmpdir(), "flywheel-cdk-out-"));
  let assembly: ReturnType<App["synth"]>;
  try {
    const app = new App({ outdir: directory, context, builtinCloudFormationValidation: false });
    new FlywheelStack(app, "Flywheel", {
      webSite: Source.data("index.html", "<!doctype html><title>Flywheel</title>"),
    });
    assembly = app.synth();
  } catch (error) {
    // A bundle that does not build: nothing of the assembly is kept.
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  const artifact = assembly.getStackByName("Flywheel");
  const templateFile = join(directory, artifact.templateFile);
  const template = JSON.parse(readFileSync(templateFile, "utf8")) as CfnTemplate;
  return {
    directory,
    templateFile,
    template,
    functions: nodeFunctions(template, assetFolders(directory, artifact.stackName)),
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}

/** Asset hash → the folder of a zipped asset, from the stack's asset manifest. */
function assetFolders(directory: string, stackName: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(directory, `${stackName}.assets.json`), "utf8")) as {
    files: Record<string, { source: { path: string; packaging?: string } }>;
  };
  const folders = new Map<string, string>();
  for (const [hash, { source }] of Object.entries(manifest.files)) {
    const folder = join(directory, source.path);
    if (source.packaging === "zip" && existsSync(folder)) folders.set(hash, folder);
  }
  return folders;
}

/** Every function of the template running on a Node.js runtime, with its bundle's folder. */
export function nodeFunctions(template: CfnTemplate, folders: Map<string, string>): SynthesizedFunction[] {
  return Object.entries(template.Resources)
    .filter(
      ([, r]) => r.Type === "AWS::Lambda::Function" && String(r.Properties?.Runtime).startsWith("nodejs"),
    )
    .map(([logicalId, resource]) => {
      const p = resource.Properties ?? {};
      const key = String((p.Code as { S3Key?: unknown } | undefined)?.S3Key ?? "");
      const hash = key.replace(/\.zip$/, "");
      const bundleDir = folders.get(hash);
      if (!bundleDir) throw new Error(`${logicalId}: no bundle in the cloud assembly for code ${key}`);
      const role = p.Role as { "Fn::GetAtt"?: [string, string] };
      const roleId = role?.["Fn::GetAtt"]?.[0];
      if (!roleId) throw new Error(`${logicalId}: its Role is not a role of the template`);
      return {
        logicalId,
        handler: String(p.Handler),
        runtime: String(p.Runtime),
        // CloudFormation's defaults when the template leaves them out.
        timeoutSeconds: Number(p.Timeout ?? 3),
        memoryMb: Number(p.MemorySize ?? 128),
        environment: ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
          {}) as Record<string, unknown>,
        roleId,
        bundleDir,
        entry: entryOf(bundleDir) ?? logicalId,
      };
    });
}

/** `functions/<name>.ts` among the sources of the bundle's source map, if it has one. */
function entryOf(bundleDir: string): string | undefined {
  const mapFile = join(bundleDir, "index.mjs.map");
  if (!existsSync(mapFile)) return undefined;
  const { sources } = JSON.parse(readFileSync(mapFile, "utf8")) as { sources: string[] };
  const entry = sources.find((source) => /(^|\/)functions\/[^/]+\.ts$/.test(source));
  return entry?.replace(/^.*functions\//, "functions/");
}
