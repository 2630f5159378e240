using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Threading.Tasks;
using System.Xml.Linq;
using Xunit;

namespace FastPt.Tests.Packaging;

/// <summary>FastPt installed the way a user installs it: <c>dotnet pack</c> of the library and of the tool into a
/// folder feed, a consumer project that references the package (no project reference) built and run, and the tool
/// installed into a tool path and run. Offline: the only package source is the folder feed, and the packages go to
/// a folder of their own (never the user's cache, which would keep a stale package of the same version).</summary>
public sealed class PackageTests : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    // Failure bounds only: on a quiet machine the whole test takes well under a minute.
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(4);

    private readonly string _root = FindRepositoryRoot();
    private readonly string _work = Directory.CreateTempSubdirectory("fastpt-pack-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // A tool host still closing; the temp folder is the system's to clean.
        }
    }

    [Fact]
    public async Task The_library_and_the_tool_pack_install_and_run_from_a_folder_feed()
    {
        string feed = Path.Combine(_work, "feed");
        // The build that runs these tests built both projects in this configuration: pack what it built.
        Task<string> packLibrary = DotnetAsync(_root, "pack", Path.Combine("src", "FastPt", "FastPt.csproj"), "-c", Configuration, "--no-build", "-o", feed);
        Task<string> packTool = DotnetAsync(_root, "pack", Path.Combine("src", "FastPt.Cli", "FastPt.Cli.csproj"), "-c", Configuration, "--no-build", "-o", feed);
        await Task.WhenAll(packLibrary, packTool);

        string library = Directory.GetFiles(feed, "FastPt.*.nupkg").Single(f => !Path.GetFileName(f).StartsWith("FastPt.Cli.", StringComparison.Ordinal));
        string version = Path.GetFileNameWithoutExtension(library)["FastPt.".Length..];
        CheckLibraryPackage(library, Path.ChangeExtension(library, ".snupkg"), version);
        string tool = Path.Combine(feed, $"FastPt.Cli.{version}.nupkg");
        CheckToolPackage(tool);

        // An isolated, offline world: only the folder feed, packages in a folder of their own, no Directory.*.props
        // of an enclosing folder.
        File.WriteAllText(Path.Combine(_work, "nuget.config"), """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="feed" />
              </packageSources>
              <config>
                <add key="globalPackagesFolder" value="packages" />
              </config>
            </configuration>
            """);
        foreach (string name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(_work, name), "<Project />\n");

        Task<string> consumer = BuildAndRunConsumerAsync(version);
        Task<(string Help, string Scenario)> installed = InstallAndRunToolAsync(version);
        await Task.WhenAll(consumer, installed);

        Assert.Contains("value=42 succeeded=True 2M-leaf=True", await consumer, StringComparison.Ordinal);
        (string help, string scenario) = await installed;
        Assert.Contains("fastpt", help, StringComparison.Ordinal);
        Assert.Contains("run", help, StringComparison.Ordinal);
        Assert.Contains("paging", scenario, StringComparison.Ordinal);
    }

    private async Task<string> BuildAndRunConsumerAsync(string version)
    {
        string project = Path.Combine(_work, "consumer");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="FastPt" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using System;
            using FastPt;

            using var machine = new Machine(new MachineOptions { MemorySize = 256UL << 20 });
            using AddressSpace space = machine.CreateAddressSpace();
            PhysAddr frames = machine.AllocatePhysical(2UL << 20);
            var va = new VirtAddr(0x7f00_0000_0000);
            space.Map(va, frames, 2UL << 20, Protection.ReadWrite);
            space.Write(va + 8, 42UL);
            Translation t = space.Translate(va + 8);
            Console.WriteLine($"value={space.Read<ulong>(va + 8)} succeeded={t.Succeeded} 2M-leaf={t.PhysAddr == frames + 8 && t.PageSize == PageSize.Size2M}");
            """);
        return await DotnetAsync(project, "run", "-c", "Release");
    }

    private async Task<(string Help, string Scenario)> InstallAndRunToolAsync(string version)
    {
        string tools = Path.Combine(_work, "tools");
        await DotnetAsync(_work, "tool", "install", "FastPt.Cli", "--version", version, "--tool-path", tools,
            "--configfile", Path.Combine(_work, "nuget.config"));
        string fastpt = Path.Combine(tools, OperatingSystem.IsWindows() ? "fastpt.exe" : "fastpt");
        Assert.True(File.Exists(fastpt), "the tool installed no 'fastpt' command");
        string help = await RunAsync(_work, fastpt, ["--help"]);
        string scenario = await RunAsync(_work, fastpt, ["run", "paging", "--memory", "256M"]);
        return (help, scenario);
    }

    private static void CheckLibraryPackage(string package, string symbols, string version)
    {
        using (ZipArchive zip = ZipFile.OpenRead(package))
        {
            HashSet<string> entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("lib/net10.0/FastPt.dll", entries);
            Assert.Contains("lib/net10.0/FastPt.xml", entries);
            Assert.Contains("README.md", entries);
            XElement metadata = Nuspec(zip).Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
            Assert.Equal("FastPt", Field("id"));
            Assert.Equal(version, Field("version"));
            Assert.Equal("README.md", Field("readme"));
            Assert.Equal("expression", metadata.Elements().Single(e => e.Name.LocalName == "license").Attribute("type")?.Value);
            Assert.False(string.IsNullOrWhiteSpace(Field("license")));
            Assert.False(string.IsNullOrWhiteSpace(Field("authors")));
            Assert.False(string.IsNullOrWhiteSpace(Field("description")));
            XElement repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
            Assert.StartsWith("https://", repository.Attribute("url")?.Value, StringComparison.Ordinal);
            // A library package depends on nothing: the engine is BCL only.
            Assert.DoesNotContain(metadata.Descendants(), e => e.Name.LocalName == "dependency");
        }
        Assert.True(File.Exists(symbols), "no symbols package (.snupkg)");
        using ZipArchive symbolZip = ZipFile.OpenRead(symbols);
        Assert.Contains(symbolZip.Entries, e => e.FullName == "lib/net10.0/FastPt.pdb");
    }

    private static void CheckToolPackage(string package)
    {
        Assert.True(File.Exists(package), $"no tool package {Path.GetFileName(package)}");
        using ZipArchive zip = ZipFile.OpenRead(package);
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
        XDocument settings = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal)).Open());
        Assert.Contains(settings.Descendants(), e => e.Name.LocalName == "Command" && e.Attribute("Name")?.Value == "fastpt");
        XElement metadata = Nuspec(zip).Elements().Single(e => e.Name.LocalName == "metadata");
        Assert.Contains(metadata.Descendants(), e => e.Name.LocalName == "packageType" && e.Attribute("name")?.Value == "DotnetTool");
    }

    private static XElement Nuspec(ZipArchive zip)
    {
        using Stream stream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(stream).Root!;
    }

    private static Task<string> DotnetAsync(string directory, params string[] dotnetArguments) =>
        RunAsync(directory, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet", dotnetArguments);

    private static async Task<string> RunAsync(string directory, string fileName, string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        // The test host's MSBuild settings would point a child build at the wrong SDK pieces.
        foreach (string inherited in new[] { "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
            start.Environment.Remove(inherited);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new System.Threading.CancellationTokenSource(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{fileName} {string.Join(' ', arguments)}' did not finish in {StepTimeout}");
        }
        string text = await output, errors = await error;
        Assert.True(process.ExitCode == 0, $"'{fileName} {string.Join(' ', arguments)}' exited with {process.ExitCode}:\n{text}\n{errors}");
        return text;
    }

    private static string FindRepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "FastPt.sln"))) return dir;
        throw new InvalidOperationException("repository root not found");
    }
}
