//! An embed identity's org by name: looked up once with the user's own token (a mint in the
//! user's default org, then `GET auth/session/user`, which lists the user's orgs), then cached
//! for every user, so that the mint names the org by id as `token/full` needs.

use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;

use super::EmbedUser;
use super::mint::{Minter, Refusal};
use crate::error::{Error, ErrorKind};
use crate::session::SessionCredential;

impl Minter {
    /// `who`, its org named by id. A name ThoughtSpot does not list for the user is refused as
    /// ThoughtSpot would refuse the mint (403); what stops the lookup's own mint is answered
    /// as that mint's refusal.
    pub(crate) async fn settle_org(
        self: &Arc<Self>,
        mut who: EmbedUser,
    ) -> Result<EmbedUser, Refusal> {
        let Some(name) = who.act_as.org_name.take() else {
            return Ok(who);
        };
        let mut lookup = who.act_as.clone();
        lookup.attributes = None;
        let lookup = EmbedUser::new(lookup);
        let refused = Mutex::new(None);
        let resolved = self
            .org_names
            .resolve(&name, Some(&who.act_as.user), || async {
                let minted = self.token(lookup, false).await.map_err(|refusal| {
                    *crate::sync::lock(&refused) = Some(refusal);
                    Error::config("the lookup's mint was refused")
                })?;
                let credential = SessionCredential::bearer(minted.token.expose_secret())?;
                self.session.v2().session_user(&credential).await
            })
            .await;
        if let Some(refusal) = refused.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(refusal);
        }
        match resolved {
            Ok(id) => {
                who.act_as.org = Some(id);
                Ok(who)
            }
            Err(error) if error.kind() == ErrorKind::UnknownOrg => Err(Refusal::ThoughtSpot(
                "ThoughtSpot lists no org of that name for this user",
            )),
            Err(error) => {
                tracing::warn!(%error, "looking an embed identity's org name up failed");
                Err(Refusal::Unavailable(std::time::Duration::from_secs(1)))
            }
        }
    }
}
