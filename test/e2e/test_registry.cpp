// test/e2e/test_registry.cpp - workload keys, the .kreg format, RegistryProvider and the
// generated header, without code generation.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "ir/parser.h"
#include "passes/registry.h"
#include "tools/header.h"

namespace kcc {
namespace {

const char *kModel = R"(kernel mm_relu(A: f32[37, 41], B: f32[41, 29], bias: f32[29]) -> Y: f32[37, 29] {
  acc[i, j] = sum(k) A[i, k] * B[k, j]   : f32[37, 29]
  Y[i, j]   = max(acc[i, j] + bias[j], 0.0)
}
)";

const char *kRenamed = R"(kernel layer(P: f32[37, 41], Q: f32[41, 29], c: f32[29]) -> R: f32[37, 29] {
  t[a, b] = sum(r) P[a, r] * Q[r, b]   : f32[37, 29]
  R[a, b] = max(t[a, b] + c[b], 0.0)
}
)";

const char *kSchedule = R"(schedule mm_relu {
  split Y.j [8] -> j0 j1
  vectorize Y.j1
  parallel Y.i
  compute_at acc Y.j0
}
)";

Kernel parse_kernel(const std::string &text) {
  Module m = parse_module("test.ir", text);
  EXPECT_EQ(m.kernels.size(), 1u);
  return m.kernels.at(0);
}

Target test_target(const std::string &cpu = "znver4", std::set<std::string> isa = {"avx", "avx2", "fma"},
                   int vector_bits = 256) {
  Target t;
  t.name = "host";
  t.triple = "x86_64-unknown-linux-gnu";
  t.cpu = cpu;
  t.features = "+avx2,+fma";
  t.isa = std::move(isa);
  t.vector_bits = vector_bits;
  return t;
}

Target avx512_target(const std::string &cpu) {
  return test_target(cpu, {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512bf16"}, 512);
}

std::string replace(std::string s, const std::string &from, const std::string &to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

TEST(WorkloadKey, IgnoresKernelTensorAndIndexNames) {
  EXPECT_EQ(workload_key(parse_kernel(kModel)), workload_key(parse_kernel(kRenamed)));
  std::string text = workload_text(parse_kernel(kModel));
  EXPECT_EQ(text.find("mm_relu"), std::string::npos) << text;
  EXPECT_EQ(text.find("bias"), std::string::npos) << text;
}

TEST(WorkloadKey, DependsOnShapes) {
  std::string changed = replace(replace(kModel, "f32[37, 41]", "f32[38, 41]"), "f32[37, 29]", "f32[38, 29]");
  EXPECT_NE(workload_key(parse_kernel(kModel)), workload_key(parse_kernel(changed)));
}

TEST(WorkloadKey, DependsOnConstantsAndReductions) {
  Kernel k = parse_kernel(kModel);
  EXPECT_NE(workload_key(k), workload_key(parse_kernel(replace(kModel, "0.0)", "1.0)"))));
  EXPECT_NE(workload_key(k), workload_key(parse_kernel(replace(kModel, "sum(k)", "max(k)"))));
}

TEST(WorkloadKey, IsAHexDigest) {
  std::string key = workload_key(parse_kernel(kModel));
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
}

RegistryEntry entry_for(const Kernel &k, const Target &t) {
  RegistryEntry e;
  e.name = k.name;
  e.workload_key = workload_key(k);
  e.target_key = t.key();
  e.schedule = kSchedule;
  e.source = ScheduleSource::Tuned;
  e.median_seconds = 1.5e-5;
  e.gflops = 42.25;
  e.names = workload_names(k);
  return e;
}

Registry registry_for(const Kernel &k, const Target &t) {
  Registry reg;
  reg.kcc_version = "0.1.0";
  reg.target_key = t.key();
  reg.target_name = t.name;
  reg.kernels.push_back(entry_for(k, t));
  return reg;
}

TEST(RegistryFile, RoundTripsThroughJson) {
  Kernel k = parse_kernel(kModel);
  Registry reg = registry_for(k, test_target());
  std::string json = registry_to_json(reg);
  Registry back = parse_registry("m.kreg", json);
  ASSERT_EQ(back.kernels.size(), 1u);
  EXPECT_EQ(back.kcc_version, "0.1.0");
  EXPECT_EQ(back.target_key, reg.target_key);
  EXPECT_EQ(back.target_name, "host");
  const RegistryEntry &e = back.kernels[0];
  EXPECT_EQ(e.name, "mm_relu");
  EXPECT_EQ(e.workload_key, reg.kernels[0].workload_key);
  EXPECT_EQ(e.schedule, kSchedule);
  EXPECT_EQ(e.source, ScheduleSource::Tuned);
  EXPECT_EQ(e.median_seconds, 1.5e-5);
  EXPECT_EQ(e.gflops, 42.25);
  EXPECT_EQ(e.names, reg.kernels[0].names);
  EXPECT_EQ(e.threads, 0);  // not known: the field is left out
  EXPECT_EQ(json.find("\"threads\""), std::string::npos);
  EXPECT_EQ(registry_to_json(back), json);  // byte-stable
  // The thread count a time was measured on travels with it.
  reg.kernels[0].threads = 2;
  Registry two = parse_registry("m.kreg", registry_to_json(reg));
  EXPECT_EQ(two.kernels[0].threads, 2);
  ChosenSchedule out;
  ASSERT_TRUE(RegistryProvider(two).provide(k, test_target(), out));
  EXPECT_EQ(out.threads, 2);
}

/// The UserError that parsing `text` as a registry throws.
UserError registry_error(const std::string &text) {
  try {
    parse_registry("m.kreg", text);
  } catch (const UserError &e) {
    return e;
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return UserError(SourceLoc{}, "none");
}

TEST(RegistryFile, MalformedJsonIsLocated) {
  UserError e = registry_error("{\n  \"format\": \"kcc-registry-1\",\n  \"kernels\": [ ,\n}\n");
  EXPECT_EQ(e.loc().line, 3);
  EXPECT_EQ(e.loc().col, 16);
  EXPECT_NE(std::string(e.what()).find("m.kreg:3:16: error: malformed registry"), std::string::npos) << e.what();
}

TEST(RegistryFile, WrongFormatTagIsLocated) {
  std::string json = registry_to_json(registry_for(parse_kernel(kModel), test_target()));
  UserError e = registry_error(replace(json, "kcc-registry-1", "kcc-registry-9"));
  EXPECT_EQ(e.loc().line, 2);
  EXPECT_NE(e.message().find("unsupported registry format 'kcc-registry-9'"), std::string::npos) << e.message();
}

TEST(RegistryFile, MissingFieldPointsAtTheEntry) {
  std::string json = registry_to_json(registry_for(parse_kernel(kModel), test_target()));
  UserError e = registry_error(replace(json, "\"gflops\"", "\"gflopz\""));
  EXPECT_NE(e.message().find("missing field 'gflops'"), std::string::npos) << e.message();
  EXPECT_EQ(e.loc().line, 7);  // the entry's '{'
}

TEST(RegistryFile, MistypedFieldPointsAtTheValue) {
  std::string json = registry_to_json(registry_for(parse_kernel(kModel), test_target()));
  UserError e = registry_error(replace(json, "\"median_seconds\": 1.5e-05", "\"median_seconds\": \"fast\""));
  EXPECT_NE(e.message().find("'median_seconds' must be a number"), std::string::npos) << e.message();
  EXPECT_NE(e.loc().line, 1);
}

TEST(RegistryFile, BadScheduleTextIsLocatedAtTheSchedule) {
  Registry reg = registry_for(parse_kernel(kModel), test_target());
  reg.kernels[0].schedule = "schedule mm_relu {\n  frobnicate Y.i\n}\n";
  UserError e = registry_error(registry_to_json(reg));
  EXPECT_NE(e.message().find("bad schedule for kernel 'mm_relu'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("schedule line 2"), std::string::npos) << e.message();
}

TEST(RegistryFile, UnknownSourceIsRejected) {
  std::string json = registry_to_json(registry_for(parse_kernel(kModel), test_target()));
  UserError e = registry_error(replace(json, "\"tuned\"", "\"guessed\""));
  EXPECT_NE(e.message().find("unknown schedule source 'guessed'"), std::string::npos) << e.message();
}

TEST(RegistryProvider, ServesTheEntryForWorkloadAndTarget) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, test_target()));
  ChosenSchedule out;
  ASSERT_TRUE(p.provide(k, test_target(), out));
  EXPECT_EQ(out.source, ScheduleSource::Registry);
  EXPECT_EQ(out.median_seconds, 1.5e-5);
  EXPECT_EQ(to_string(out.schedule), kSchedule);
}

TEST(RegistryProvider, ServesAnotherCpuOfTheSameIsaWithANote) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, test_target("znver4")));
  ChosenSchedule out;
  ASSERT_TRUE(p.provide(k, test_target("sapphirerapids"), out));
  EXPECT_EQ(to_string(out.schedule), kSchedule);
  EXPECT_EQ(out.median_seconds, 0) << "a time measured on another cpu says nothing of this one";
  std::string note = p.borrowed_note(test_target("sapphirerapids"));
  EXPECT_NE(note.find("tuned on znver4, used on sapphirerapids (1 kernel)"), std::string::npos) << note;
  EXPECT_NE(note.find("retune for best speed"), std::string::npos) << note;
}

TEST(RegistryProvider, ServesAnAvx2EntryOnAnAvx512Cpu) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, test_target("x86-64-v3")));
  ChosenSchedule out;
  EXPECT_TRUE(p.provide(k, avx512_target("sapphirerapids"), out));
}

TEST(RegistryProvider, NeverServesAnEntryNeedingFeaturesTheTargetLacks) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, avx512_target("znver4")));
  ChosenSchedule out;
  EXPECT_FALSE(p.provide(k, test_target("x86-64-v3"), out));
  std::string msg = p.missing_message(k, test_target("x86-64-v3"));
  EXPECT_NE(msg.find("kernel 'mm_relu'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("avx512f"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("avx512bf16"), std::string::npos) << "extensions never gate: " << msg;
}

TEST(RegistryProvider, ExtensionsTheTargetLacksDoNotGate) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, avx512_target("sapphirerapids")));
  Target skx = avx512_target("skylake-avx512");
  skx.isa.erase("avx512bf16");
  ChosenSchedule out;
  EXPECT_TRUE(p.provide(k, skx, out));
}

TEST(RegistryProvider, StrictDemandsTheExactTarget) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, test_target("znver4")), /*strict=*/true);
  ChosenSchedule out;
  EXPECT_FALSE(p.provide(k, test_target("sapphirerapids"), out));
  std::string msg = p.missing_message(k, test_target("sapphirerapids"));
  EXPECT_NE(msg.find("--registry-strict"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tuned on znver4"), std::string::npos) << msg;
  EXPECT_TRUE(p.provide(k, test_target("znver4"), out));
}

TEST(RegistryProvider, PrefersTheExactEntryToACompatibleOne) {
  Kernel k = parse_kernel(kModel);
  Registry reg = registry_for(k, test_target("znver4"));
  RegistryEntry other = reg.kernels.at(0);
  other.target_key = test_target("sapphirerapids").key();
  other.schedule = "schedule mm_relu {\n  parallel Y.i\n}\n";
  reg.kernels.insert(reg.kernels.begin(), other);
  RegistryProvider p(std::move(reg));
  ChosenSchedule out;
  ASSERT_TRUE(p.provide(k, test_target("sapphirerapids"), out));
  EXPECT_EQ(to_string(out.schedule), "schedule mm_relu {\n  parallel Y.i\n}\n");
  EXPECT_EQ(p.borrowed_note(test_target("sapphirerapids")), "");
}

TEST(RegistryProvider, ReadsTheLongKeysOfEarlierVersions) {
  Kernel k = parse_kernel(kModel);
  Registry reg = registry_for(k, test_target("znver4"));
  reg.kernels.at(0).target_key = "x86_64-unknown-linux-gnu;znver4;+64bit,+adx,-amx-tile,+avx,+avx2,+fma,-xop;v256";
  RegistryProvider p(std::move(reg));
  ChosenSchedule out;
  EXPECT_TRUE(p.provide(k, test_target("sapphirerapids"), out));
  EXPECT_FALSE(p.provide(k, test_target("x86-64-v2", {"sse4.2"}, 128), out));
}

TEST(TargetKey, HoldsCodeFeaturesNotTheFeatureDump) {
  Target t = avx512_target("znver4");
  EXPECT_EQ(t.key(), "x86_64-unknown-linux-gnu;znver4;avx,avx2,avx512bf16,avx512bw,avx512dq,avx512f,avx512vl,fma;v512");
  t.options.llvm_unroll = false;
  EXPECT_EQ(t.key(), "x86_64-unknown-linux-gnu;znver4;avx,avx2,avx512bf16,avx512bw,avx512dq,avx512f,avx512vl,fma;v512;"
                     "no-llvm-unroll");
  std::optional<TargetKey> back = TargetKey::parse(t.key());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cpu, "znver4");
  EXPECT_EQ(back->isa, t.isa);
  EXPECT_EQ(back->vector_bits, 512);
  EXPECT_EQ(back->options, "no-llvm-unroll");
  EXPECT_FALSE(TargetKey::parse("not a key"));
}

TEST(TargetKey, OptionsChangeTheKeyButNotCompatibility) {
  Target on = test_target("znver4"), off = on;
  off.options.llvm_unroll = false;
  EXPECT_NE(on.key(), off.key());
  std::string why;
  EXPECT_EQ(match_target_key(on.key(), off, &why), KeyMatch::Compatible);
  EXPECT_NE(why.find("options"), std::string::npos) << why;
}

TEST(TargetKey, HostKeyIsShortAndNamesTheCpu) {
  Target t = make_target("host");
  EXPECT_LT(t.key().size(), 320u) << t.key();
  EXPECT_NE(t.key().find(";" + t.cpu + ";"), std::string::npos) << t.key();
  EXPECT_EQ(t.key().find('+'), std::string::npos) << "no LLVM feature string: " << t.key();
  EXPECT_EQ(match_target_key(t.key(), t), KeyMatch::Exact);
}

TEST(RegistryProvider, RefusesAChangedKernelOfTheSameName) {
  Kernel k = parse_kernel(kModel);
  RegistryProvider p(registry_for(k, test_target()));
  Kernel changed = parse_kernel(replace(kModel, "0.0)", "1.0)"));
  ChosenSchedule out;
  EXPECT_FALSE(p.provide(changed, test_target(), out));
  std::string msg = p.missing_message(changed, test_target());
  EXPECT_NE(msg.find("kernel changed"), std::string::npos) << msg;
}

TEST(RegistryProvider, RenamesTheScheduleForAnotherSpelling) {
  RegistryProvider p(registry_for(parse_kernel(kModel), test_target()));
  Kernel renamed = parse_kernel(kRenamed);
  ChosenSchedule out;
  ASSERT_TRUE(p.provide(renamed, test_target(), out));
  EXPECT_EQ(to_string(out.schedule),
            "schedule layer {\n  split R.b [8] -> j0 j1\n  vectorize R.j1\n  parallel R.a\n  compute_at t R.j0\n}\n");
}

TEST(Header, CompilesAsC99AndCxx) {
  Module m = parse_module("test.ir", std::string(kModel) + kSchedule);
  std::vector<CompiledKernel> kernels(1);
  kernels[0].kernel = &m.kernels[0];
  kernels[0].chosen.schedule = m.schedules[0];
  kernels[0].chosen.source = ScheduleSource::Given;
  std::string header = generate_header("my-model", "test.ir", kernels, test_target(), "0.1.0");
  EXPECT_NE(header.find("int mm_relu(const float *A, const float *B, const float *bias, float *Y);"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("kcc_my_model_registry[]"), std::string::npos);
  EXPECT_NE(header.find("#define KCC_MM_RELU_A_DIMS 37, 41"), std::string::npos);

  std::string dir = testing::TempDir();
  std::ofstream(dir + "/my-model.h") << header;
  std::ofstream(dir + "/use.c") << "#include \"my-model.h\"\n#include \"my-model.h\"\n"
                                   "int main(void) { return kcc_my_model_registry_count - 1; }\n";
  std::string c = "cc -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -I" + dir + " " + dir + "/use.c";
  std::string cxx = "c++ -x c++ -Wall -Wextra -Werror -fsyntax-only -I" + dir + " " + dir + "/use.c";
  EXPECT_EQ(std::system(c.c_str()), 0) << c;
  EXPECT_EQ(std::system(cxx.c_str()), 0) << cxx;
}

}  // namespace
}  // namespace kcc
