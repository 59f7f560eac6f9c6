//! The store's Lua scripts, and how a call reaches Redis: a script by its hash (`EVALSHA`), sent
//! again whole (`EVAL`) where the node has not seen it yet, or a plain command.
//!
//! Every script names all the keys it touches in `KEYS` and nothing else, so that Redis Cluster
//! routes it by its first key and refuses it if the keys are in different slots. A new script
//! is one more constant and one more field of [`Scripts`].

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisResult, ServerErrorKind};

/// Reads several entries and their remaining time to live at one moment.
const READ: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    out[2 * i - 1] = value
    out[2 * i] = redis.call('PTTL', key)
  else
    out[2 * i - 1] = ''
    out[2 * i] = -2
  end
end
return out
";

/// Deletes the key if its value begins with the given generation (16 bytes).
const REMOVE_IF: &str = r"
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 16) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Takes the lease if free, or extends it if the holder holds it.
const TRY_LEASE: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Takes a turn of a shared rate by the generic cell-rate algorithm, on Redis's own clock
/// (`TIME`, microseconds: exact in Lua's doubles for millennia). The key holds the theoretical
/// arrival time of the next turn. ARGV: the interval, the burst's tolerance and the longest wait,
/// in microseconds. Answers `{1, wait}` (taken) or `{0, how far beyond the longest wait}`.
const TAKE_TURN: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
if wait > max_wait then
  return {0, wait - max_wait}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX',
  math.floor((next_tat - now) / 1000) + 1)
return {1, wait}
";

/// The store's scripts, each with its hash computed once.
pub(super) struct Scripts {
    pub(super) read: LuaScript,
    pub(super) remove_if: LuaScript,
    pub(super) try_lease: LuaScript,
    pub(super) take_turn: LuaScript,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            read: LuaScript::new(READ),
            remove_if: LuaScript::new(REMOVE_IF),
            try_lease: LuaScript::new(TRY_LEASE),
            take_turn: LuaScript::new(TAKE_TURN),
        }
    }
}

/// A Lua script and its SHA-1, the name Redis caches it under.
pub(super) struct LuaScript {
    source: &'static str,
    hash: String,
}

impl LuaScript {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            hash: redis::Script::new(source).get_hash().to_owned(),
        }
    }

    /// A call of the script on `keys` with `args`.
    pub(super) fn call(&self, keys: Vec<String>, args: Vec<Vec<u8>>) -> Call<'_> {
        Call::Script {
            script: self,
            keys,
            args,
        }
    }
}

/// One call, ready to send as often as it takes: it holds no connection.
pub(super) enum Call<'a> {
    /// A script on its keys with its arguments.
    Script {
        script: &'a LuaScript,
        keys: Vec<String>,
        args: Vec<Vec<u8>>,
    },
    /// A plain command.
    Command(Cmd),
}

impl Call<'_> {
    /// Sends the call on `connection`. A script goes by its hash first; a node that does not
    /// know it (a fresh node, a replica just promoted, after `SCRIPT FLUSH`) gets it whole, on
    /// the same key and so the same node, which keeps it for next time. (The `redis` crate's own
    /// fallback sends `SCRIPT LOAD` to every primary of a cluster: it fails while one is down.)
    pub(super) async fn send<C, T>(&self, connection: &mut C) -> RedisResult<T>
    where
        C: ConnectionLike,
        T: FromRedisValue,
    {
        match self {
            Call::Command(command) => command.query_async(connection).await,
            Call::Script { script, keys, args } => {
                let by_hash = script_command("EVALSHA", &script.hash, keys, args);
                match by_hash.query_async(connection).await {
                    Err(e) if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                        script_command("EVAL", script.source, keys, args)
                            .query_async(connection)
                            .await
                    }
                    other => other,
                }
            }
        }
    }
}

/// `EVALSHA hash` or `EVAL source`, then the key count, the keys and the arguments.
fn script_command(name: &str, script: &str, keys: &[String], args: &[Vec<u8>]) -> Cmd {
    let mut command = redis::cmd(name);
    command.arg(script).arg(keys.len()).arg(keys).arg(args);
    command
}
